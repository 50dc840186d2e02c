/* main.c - the cutover binary; everything else lives in libcutover. */
#include "cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
