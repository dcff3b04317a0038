// Agent console, case page: the case so far, then live updates.
import { PAGE, api, setLabels, status } from "./common.js";
import { setupDraft } from "./case_draft.js";
import { setupRecord } from "./case_record.js";
import { createCaseView } from "./case_view.js";
import { openStream } from "./stream.js";

export function casePage() {
  var caseId = PAGE.dataset.caseId;
  var base = "/console/api/case/" + encodeURIComponent(caseId);
  var seen = {};
  var live = false;            // true once the case so far is shown
  var draft = setupDraft(base);
  var record = setupRecord(base);
  var view = createCaseView(draft.useSuggestion);

  function applyItem(item) {
    var key = item.type + ":" + item.id;
    if (seen[key]) return;
    seen[key] = true;
    if (item.type === "turn") view.addTurn(item);
    if (item.type === "assist") {
      view.renderAnalysis(item.analysis || {});
      view.renderSuggestions(item.suggestions);
      view.renderAlerts(item.alerts);
      view.renderKnowledge(item.knowledge);
      if (live) record.reloadRecord();   // the drafted narrative follows the new turn
    }
  }

  // ---- customer said

  document.getElementById("customer-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var box = document.getElementById("customer-text");
    var button = document.getElementById("customer-submit");
    var note = document.getElementById("customer-status");
    var text = box.value.trim();
    if (!text) return;
    button.disabled = true;
    status(note, "分析中…");
    api("POST", base + "/customer", { text: text }).then(function () {
      box.value = "";
      status(note, "");
    }).catch(function (error) { status(note, error.message, true); })
      .then(function () { button.disabled = false; });
  });

  // ---- start: labels, the case so far, then live updates

  api("GET", "/console/api/labels").then(function (data) {
    setLabels(data);
    return api("GET", base);
  }).then(function (snapshot) {
    snapshot.items.forEach(applyItem);
    record.fillRecord(snapshot.record, true);
    live = true;
    openStream("case=" + encodeURIComponent(caseId) + "&after=" + snapshot.last_event, {
      turn: applyItem,
      assist: applyItem,
      record: record.reloadRecord
    });
  }).catch(function (error) {
    document.getElementById("live-state").textContent = error.message;
  });
}
