(function(){'use strict';
function val(c,num){var v=c.getAttribute('data-v');if(v===null)v=c.textContent;return num?(parseFloat(v)||0):v.toLowerCase();}
document.querySelectorAll('table.sortable').forEach(function(t){
 if(!t.tHead||!t.tBodies.length)return;var hs=t.tHead.rows[0].cells;
 Array.prototype.forEach.call(hs,function(th,i){th.tabIndex=0;
  function go(){var asc=th.getAttribute('aria-sort')!=='ascending',num=th.getAttribute('data-type')==='num',b=t.tBodies[0];
   Array.prototype.forEach.call(hs,function(x){x.removeAttribute('aria-sort');});
   th.setAttribute('aria-sort',asc?'ascending':'descending');
   var rows=Array.prototype.slice.call(b.rows).filter(function(r){return r.cells.length===hs.length;});
   rows.sort(function(x,y){var a=val(x.cells[i],num),c=val(y.cells[i],num);var r=num?a-c:a.localeCompare(c);return asc?r:-r;});
   rows.forEach(function(r){b.appendChild(r);});}
  th.addEventListener('click',go);
  th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});});});
window.addEventListener('beforeprint',function(){document.querySelectorAll('details:not([open])').forEach(function(d){d.setAttribute('data-print','');d.open=true;});});
window.addEventListener('afterprint',function(){document.querySelectorAll('details[data-print]').forEach(function(d){d.removeAttribute('data-print');d.open=false;});});
})();
