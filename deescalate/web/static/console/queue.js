// Agent console: the live case queue.
import { clear, clock, el } from "./common.js";
import { openStream } from "./stream.js";

function queueRow(c) {
  var row = el("tr", "risk-" + (c.risk || "none") + (c.handoff ? " handoff" : ""));
  row.dataset.caseId = c.case_id;
  var first = el("td");
  var link = el("a", null, c.case_id);
  link.href = "/console/case/" + encodeURIComponent(c.case_id);
  first.appendChild(link);
  if (c.handoff) { first.appendChild(document.createTextNode(" ")); first.appendChild(el("span", "badge handoff", "转人工")); }
  row.appendChild(first);
  [c.channel, c.cause || "—", c.emotion_label || "—"].forEach(function (v) { row.appendChild(el("td", null, v)); });
  var risk = el("td");
  risk.appendChild(el("span", "badge risk-" + (c.risk || "none"), c.risk_label || "—"));
  row.appendChild(risk);
  row.appendChild(el("td", null, c.stage || "—"));
  var flags = el("td");
  c.escalation.forEach(function (e) { flags.appendChild(el("span", "badge flag", e)); });
  row.appendChild(flags);
  [c.turns, c.first_handler || "—", c.status_label].forEach(function (v) { row.appendChild(el("td", null, v)); });
  row.appendChild(el("td", "time", clock(c.updated_at)));
  return row;
}

function renderQueue(cases) {
  var body = document.getElementById("queue-body");
  clear(body);
  cases.forEach(function (c) { body.appendChild(queueRow(c)); });
  document.getElementById("queue-empty").classList.toggle("hidden", cases.length > 0);
}

function newCaseId() {
  var now = new Date();
  var pad = function (n) { return String(n).padStart(2, "0"); };
  var stamp = now.getFullYear() + pad(now.getMonth() + 1) + pad(now.getDate()) + "-" +
              pad(now.getHours()) + pad(now.getMinutes()) + pad(now.getSeconds());
  var random = Array.from(crypto.getRandomValues(new Uint8Array(3)),
                          function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  return "demo-" + stamp + "-" + random;
}

export function queuePage() {
  document.querySelectorAll("#queue-body .time").forEach(function (cell) {
    cell.textContent = clock(cell.dataset.time);
  });
  document.getElementById("queue-body").addEventListener("click", function (event) {
    var row = event.target.closest("tr");
    if (row && event.target.tagName !== "A") {
      window.location.href = "/console/case/" + encodeURIComponent(row.dataset.caseId);
    }
  });
  document.getElementById("new-demo-case").addEventListener("click", function () {
    window.location.href = "/console/case/" + newCaseId();
  });
  document.getElementById("open-case").addEventListener("submit", function (event) {
    event.preventDefault();
    var id = document.getElementById("open-case-id").value.trim();
    if (id) window.location.href = "/console/case/" + encodeURIComponent(id);
  });
  openStream("queue=1", { queue: renderQueue });
}
