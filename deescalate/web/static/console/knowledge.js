// Agent console, case page: the agent-only knowledge panel and the choice cards.
// Nothing here is ever sent to a customer: the chat widget has no such panel.
import { clear, el } from "./common.js";

var KIND = { fact: "须知", do: "要做", watch: "留意" };

// The facts, what to do and what to watch for, each with its basis and review date.
export function renderKnowledge(box, items) {
  if (!box) return;
  clear(box);
  if (!items || !items.length) { box.appendChild(el("p", "muted", "客户发言后出现本案须知。")); return; }
  var list = el("ul", "knowledge-list");
  items.forEach(function (item) {
    var li = el("li", "knowledge-item " + (item.kind || "fact"));
    li.dataset.kind = item.kind || "fact";
    li.appendChild(el("span", "k-kind", KIND[item.kind] || item.kind));
    li.appendChild(el("span", "k-text", item.text));
    var basis = el("div", "k-basis", "依据：" + (item.basis || "—"));
    if (item.reviewed) basis.appendChild(el("span", "k-reviewed", "（核对于 " + item.reviewed + "）"));
    li.appendChild(basis);
    list.appendChild(li);
  });
  box.appendChild(list);
}

// Choices as short cards: the title first; meaning, cost and approver open on a click.
export function choiceCards(options, approverText) {
  var list = el("ol", "choice-cards");
  (options || []).forEach(function (o) {
    var li = el("li", "choice-card" + (o.fits === false ? " waiting" : ""));
    li.dataset.choiceId = o.id;
    var details = el("details");
    var summary = el("summary");
    summary.appendChild(el("span", "c-title", o.short || o.text));
    if (o.approver && o.approver !== "none") summary.appendChild(el("span", "badge approver", "需审批"));
    if (o.fits === false && o.needs && o.needs.length) {
      summary.appendChild(el("span", "badge needs", "待确认：" + o.needs.join("、")));
    }
    details.appendChild(summary);
    details.appendChild(el("p", "c-offer", o.text));
    var dl = el("dl", "c-detail");
    var approver = o.approver_label || approverText(o.approver);
    [["含义", o.means], ["成本", o.cost],
     ["审批", approver + (o.borne ? "（公司承担约 " + o.borne + " 元）" : "")]].forEach(function (row) {
      dl.appendChild(el("dt", null, row[0]));
      dl.appendChild(el("dd", null, row[1] || "—"));
    });
    details.appendChild(dl);
    li.appendChild(details);
    list.appendChild(li);
  });
  return list;
}
