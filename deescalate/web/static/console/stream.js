// Agent console: the live stream (server-sent events) and the supervisors' high-risk banner.
import { api, clear, el } from "./common.js";

function renderBanner(cases) {
  var banner = document.getElementById("risk-banner");
  if (!banner) return;
  var list = document.getElementById("risk-banner-list");
  clear(list);
  cases.forEach(function (c) {
    var link = el("a", null, c.case_id + (c.cause ? "（" + c.cause + "）" : ""));
    link.href = "/console/case/" + encodeURIComponent(c.case_id);
    list.appendChild(link);
  });
  document.getElementById("risk-banner-count").textContent = String(cases.length);
  banner.classList.toggle("hidden", cases.length === 0);
}

export function openStream(query, handlers) {
  var live = document.getElementById("live-state");
  var source = new EventSource("/console/stream?" + query);
  Object.keys(handlers).forEach(function (name) {
    source.addEventListener(name, function (event) { handlers[name](JSON.parse(event.data)); });
  });
  source.addEventListener("high_risk", function (event) { renderBanner(JSON.parse(event.data)); });
  source.onopen = function () {
    if (live) { live.textContent = "实时"; live.classList.add("on"); }
  };
  source.onerror = function () {
    if (live) { live.textContent = "重新连接…"; live.classList.remove("on"); }
    if (source.readyState === EventSource.CLOSED) {
      // Refused (logged out or expired): find out which, then reconnect or log in.
      api("GET", "/console/api/queue").then(function () {
        setTimeout(function () { openStream(query, handlers); }, 2000);
      }).catch(function () {});
    }
  };
  return source;
}
