// Agent console, case page: the editable case record.
import { api, clear, clock, el, label, status } from "./common.js";

// Wires the record form of the case whose API is at `base`; returns `fillRecord` and `reloadRecord`.
export function setupRecord(base) {
  var dirty = {};              // record fields edited and not yet saved

  var FIELDS = ["cause", "demand_note", "amount", "first_handler", "narrative", "status"];

  function fillRecord(record, force) {
    FIELDS.forEach(function (field) {
      if (dirty[field] && !force) return;
      var input = document.getElementById("r-" + field);
      var value = record[field];
      input.value = value === null || value === undefined ? "" : String(value);
    });
    if (force) dirty = {};
    document.getElementById("r-approval").textContent = record.approval_tier
      ? "审批：第" + record.approval_tier + "级，" + record.approval_role : "";
    document.getElementById("r-narrative-note").textContent =
      record.narrative_drafted && record.narrative ? "（根据对话自动生成，可修改）" : "";
    var badges = document.getElementById("case-badges");
    clear(badges);
    badges.appendChild(el("span", "badge", label("statuses", record.status)));
  }

  FIELDS.forEach(function (field) {
    var input = document.getElementById("r-" + field);
    input.addEventListener("input", function () { dirty[field] = true; });
    input.addEventListener("change", function () { dirty[field] = true; });
  });

  document.getElementById("record-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {};
    FIELDS.forEach(function (field) { body[field] = document.getElementById("r-" + field).value; });
    var note = document.getElementById("record-status");
    status(note, "保存中…");
    api("POST", base + "/record", body).then(function (record) {
      fillRecord(record, true);
      status(note, "已保存 " + clock(new Date().toISOString()));
    }).catch(function (error) { status(note, error.message, true); });
  });

  function reloadRecord() {
    return api("GET", base).then(function (snapshot) { fillRecord(snapshot.record, false); });
  }

  return { fillRecord: fillRecord, reloadRecord: reloadRecord };
}
