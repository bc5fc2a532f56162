package agent

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// The status page: read-only, one HTML document with its CSS and script
// inline (no external assets: it must work on a management network without
// internet, and load nothing an attacker could swap). The server renders
// it complete (it reads without JavaScript, and tests read it); the script
// then re-renders it from /status.json every few seconds. Status holds no
// secrets (health errors are scrubbed, DSNs and VRRP passwords are never in
// it), so neither does the page.

// statusTimeout bounds one status fan-out for the page: the page refreshes
// every pageRefresh, and an unreachable peer must not stack requests.
const (
	statusTimeout = 2 * time.Second
	pageRefresh   = 3 * time.Second
	pageHistory   = 20
)

func (m *Metrics) status(r *http.Request) Status {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	return m.a.ClusterStatus(ctx, pageHistory)
}

func (m *Metrics) statusRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		st := m.status(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		st := m.status(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// Inline script and style only; nothing else may load.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := pageTmpl.Execute(w, pageData{S: st, Refresh: pageRefresh.Milliseconds()}); err != nil {
			m.a.log.Debug("status page", "error", err)
		}
	})
}

type pageData struct {
	S       Status
	Refresh int64
}

func eventPhase(e fsm.Event) string {
	switch {
	case e.Op == fsm.OpRelease && e.Detection > 0:
		return "detection " + e.Detection.Round(time.Millisecond).String()
	case e.Op == fsm.OpAcquire && e.Handover > 0:
		return "VIP free " + e.Handover.Round(time.Millisecond).String()
	case e.Op == fsm.OpAdded && e.GARP > 0:
		return "first GARP after " + e.GARP.Round(time.Millisecond).String()
	case (e.Op == fsm.OpFence || e.Op == fsm.OpWritable) && e.Wait > 0:
		return "wait " + e.Wait.Round(time.Millisecond).String()
	}
	return ""
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"phase": eventPhase,
	"rev": func(es []fsm.Event) []fsm.Event {
		out := make([]fsm.Event, len(es))
		for i, e := range es {
			out[len(es)-1-i] = e
		}
		return out
	},
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>raftvip status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;justify-content:space-between;align-items:baseline}
header h1{font-size:18px;margin:0}
main{padding:16px 20px;max-width:1200px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.card{background:#fff;border-radius:6px;padding:10px 14px;min-width:120px;box-shadow:0 1px 2px #0002}
.card .k{font-size:12px;color:#667;text-transform:uppercase;letter-spacing:.05em}
.card .v{font-size:20px;font-weight:600}
.note{background:#fff3cd;border-left:4px solid #e0a800;padding:8px 12px;margin-bottom:12px}
.warn{background:#fde2e1;border-left:4px solid #d9362b;padding:6px 12px;margin:4px 0}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002;margin-bottom:16px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#eef0f3;font-size:12px;text-transform:uppercase;color:#556}
.ok{color:#137333;font-weight:600}.bad{color:#c5221f;font-weight:600}.dim{color:#889}
.holder{background:#e6f4ea}
.tl{list-style:none;margin:0;padding:0 0 0 14px;border-left:3px solid #c8ccd4}
.tl li{position:relative;margin:0 0 8px 0;padding-left:10px}
.tl li::before{content:"";position:absolute;left:-22px;top:5px;width:11px;height:11px;border-radius:50%;background:#889}
.tl li.acquire::before{background:#137333}.tl li.release::before{background:#e0a800}.tl li.fence::before{background:#c5221f}.tl li.writable::before{background:#1a73e8}.tl li.added::before{background:#5f9e6e}
.tl .op{font-weight:600}
h2{font-size:15px;margin:18px 0 8px}
</style></head>
<body>
<header><h1>raftvip</h1><span id="updated">answered by {{.S.Node}} at {{ts .S.Time}}</span></header>
<main id="page">
<div class="cards">
<div class="card"><div class="k">VIP holder</div><div class="v" id="holder">{{if .S.Holder}}{{.S.Holder}}{{else}}nobody{{end}}</div></div>
<div class="card"><div class="k">Raft leader</div><div class="v">{{if .S.Leader}}{{.S.Leader}}{{else}}none{{end}}</div></div>
<div class="card"><div class="k">Epoch</div><div class="v">{{.S.Epoch}}</div></div>
<div class="card"><div class="k">Term</div><div class="v">{{.S.Term}}</div></div>
<div class="card"><div class="k">Maintenance</div><div class="v">{{if .S.Maintenance.On}}on{{else}}off{{end}}</div></div>
</div>
{{with .S.Note}}<div class="note">{{.}}</div>{{end}}
{{range .S.ARPAlarms}}<div class="warn">CRITICAL: {{.}}</div>{{end}}
{{range .S.Warnings}}<div class="warn">{{.}}</div>{{end}}
<h2>Nodes</h2>
<table><thead><tr><th>node</th><th>role</th><th>raft</th><th>mysql</th><th>vip</th><th>replication</th><th>server (data)</th><th>decision</th></tr></thead><tbody>
{{range .S.Nodes}}<tr{{if .Holding}} class="holder"{{end}}>
<td><b>{{.ID}}</b><br><span class="dim">{{.Address}}</span></td>
<td>{{.Role}}<br><span class="dim">{{.Suffrage}}</span></td>
<td>{{if .Reachable}}{{.RaftState}}{{else}}<span class="bad">unreachable</span><br><span class="dim">{{.Error}}</span>{{end}}</td>
<td>{{if eq .Role "witness"}}<span class="dim">-</span>{{else if .Healthy}}<span class="ok">healthy</span>{{else}}<span class="bad">unhealthy</span>{{end}} <span class="dim">{{.CheckClass}}</span>{{with .CheckError}}<br><span class="dim">{{.}}</span>{{end}}</td>
<td>{{if .Holding}}<span class="ok">holds the VIP</span>{{else}}<span class="dim">-</span>{{end}}</td>
<td>{{with .Replication}}{{if .Configured}}from {{.Source}}<br>io {{.IORunning}}, sql {{if .SQLRunning}}Yes{{else}}No{{end}}, lag {{with .SecondsBehind}}{{.}} s{{else}}unknown{{end}}{{else}}none{{end}}{{else}}<span class="dim">-</span>{{end}}{{with .Stale}}<br><span class="bad">stale: {{.}}</span>{{end}}</td>
<td>{{with .Data}}{{.Mode}}{{with .Detail}}<br><span class="dim">{{.}}</span>{{end}}{{else}}<span class="dim">-</span>{{end}}</td>
<td><span class="dim">{{.Decision}}{{with .Reason}}: {{.}}{{end}}</span></td>
</tr>{{end}}
</tbody></table>
<h2>Last epochs</h2>
<ul class="tl">
{{range rev .S.History}}<li class="{{.Op}}"><span class="dim">{{ts .Time}}</span> epoch {{.Epoch}} <span class="op">{{.Op}}</span> {{.Node}}{{with phase .}} <span class="dim">({{.}})</span>{{end}}<br><span class="dim">{{.Reason}}</span></li>
{{end}}
</ul>
</main>
<script>
"use strict";
(function(){
var refresh = {{.Refresh}};
function el(tag, cls, text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined&&text!==null)e.textContent=String(text);return e;}
function ts(s){if(!s||s.indexOf("0001-")===0)return "";var d=new Date(s);return isNaN(d)?s:d.toISOString().replace("T"," ");}
function dur(ns){if(!ns)return "";return (ns/1e9).toFixed(3).replace(/\.?0+$/,"")+"s";}
function phase(e){
 if(e.op==="release"&&e.detection_ns)return "detection "+dur(e.detection_ns);
 if(e.op==="acquire"&&e.handover_ns)return "VIP free "+dur(e.handover_ns);
 if(e.op==="added"&&e.garp_ns)return "first GARP after "+dur(e.garp_ns);
 if((e.op==="fence"||e.op==="writable")&&e.wait_ns)return "wait "+dur(e.wait_ns);
 return "";
}
function card(k,v){var c=el("div","card");c.appendChild(el("div","k",k));var x=el("div","v",v);if(k==="VIP holder")x.id="holder";c.appendChild(x);return c;}
function td(tr, parts){var c=el("td");parts.forEach(function(p,i){if(i)c.appendChild(el("br"));c.appendChild(typeof p==="string"?el("span","",p):p);});tr.appendChild(c);}
function render(s){
 var m=el("main");m.id="page";m.setAttribute("data-rendered","script");
 var cards=el("div","cards");
 cards.appendChild(card("VIP holder",s.holder||"nobody"));
 cards.appendChild(card("Raft leader",s.leader||"none"));
 cards.appendChild(card("Epoch",s.epoch));
 cards.appendChild(card("Term",s.term));
 cards.appendChild(card("Maintenance",s.maintenance&&s.maintenance.on?"on":"off"));
 m.appendChild(cards);
 if(s.note)m.appendChild(el("div","note",s.note));
 (s.arp_alarms||[]).forEach(function(w){m.appendChild(el("div","warn","CRITICAL: "+w));});
 (s.warnings||[]).forEach(function(w){m.appendChild(el("div","warn",w));});
 m.appendChild(el("h2","","Nodes"));
 var t=el("table"),th=el("thead"),hr=el("tr");
 ["node","role","raft","mysql","vip","replication","server (data)","decision"].forEach(function(h){hr.appendChild(el("th","",h));});
 th.appendChild(hr);t.appendChild(th);var tb=el("tbody");
 (s.nodes||[]).forEach(function(n){
  var tr=el("tr",n.holding_vip?"holder":"");
  td(tr,[el("b","",n.id),el("span","dim",n.address)]);
  td(tr,[n.role,el("span","dim",n.suffrage)]);
  td(tr,n.reachable?[n.raft_state]:[el("span","bad","unreachable"),el("span","dim",n.error||"")]);
  var h=n.role==="witness"?el("span","dim","-"):(n.healthy?el("span","ok","healthy"):el("span","bad","unhealthy"));
  var mc=[h,el("span","dim",n.check_class||"")];if(n.check_error)mc.push(el("span","dim",n.check_error));
  td(tr,mc);
  td(tr,[n.holding_vip?el("span","ok","holds the VIP"):el("span","dim","-")]);
  var r=n.replication,rc=[];
  if(!r)rc.push(el("span","dim","-"));
  else if(!r.configured)rc.push("none");
  else{rc.push("from "+(r.source||""));rc.push("io "+(r.io_running||"")+", sql "+(r.sql_running?"Yes":"No")+", lag "+(r.seconds_behind===null||r.seconds_behind===undefined?"unknown":r.seconds_behind+" s"));}
  if(n.stale)rc.push(el("span","bad","stale: "+n.stale));
  td(tr,rc);
  var d=n.data,dc=d?[d.mode]:[el("span","dim","-")];if(d&&d.detail)dc.push(el("span","dim",d.detail));
  td(tr,dc);
  td(tr,[el("span","dim",(n.decision||"")+(n.reason?": "+n.reason:""))]);
  tb.appendChild(tr);
 });
 t.appendChild(tb);m.appendChild(t);
 m.appendChild(el("h2","","Last epochs"));
 var ul=el("ul","tl");
 (s.history||[]).slice().reverse().forEach(function(e){
  var li=el("li",e.op);li.appendChild(el("span","dim",ts(e.time)));
  li.appendChild(document.createTextNode(" epoch "+e.epoch+" "));li.appendChild(el("span","op",e.op));
  li.appendChild(document.createTextNode(" "+(e.node||"")));
  var p=phase(e);if(p)li.appendChild(el("span","dim"," ("+p+")"));
  li.appendChild(el("br"));li.appendChild(el("span","dim",e.reason||""));ul.appendChild(li);
 });
 m.appendChild(ul);
 var old=document.getElementById("page");old.parentNode.replaceChild(m,old);
 document.getElementById("updated").textContent="answered by "+s.node+" at "+ts(s.time);
}
function tick(){
 fetch("status.json",{cache:"no-store"}).then(function(r){if(!r.ok)throw new Error(r.status);return r.json();})
 .then(render).catch(function(e){document.getElementById("updated").textContent="refresh failed: "+e;})
 .finally(function(){setTimeout(tick,refresh);});
}
setTimeout(tick,refresh);
})();
</script>
</body></html>
`
