// Agent console, case page: the transcript, the analysis and the suggestions.
import { PAGE, TREND, WHO, clear, clock, el, label, money } from "./common.js";
import { choiceCards, renderKnowledge } from "./knowledge.js";
import { lineControls, whyBox } from "./why.js";

const SUPERVISOR = !!PAGE && ["supervisor", "admin"].indexOf(PAGE.dataset.role) >= 0;

// What the case page shows so far; `onUse` is called with a suggestion the agent picks.
export function createCaseView(onUse) {
  var emotions = [];
  var analysis = {};

  function addTurn(item) {
    var li = el("li", "turn " + item.who);
    li.dataset.eventId = item.id;
    var meta = el("div", "meta", WHO[item.who] + " · " + clock(item.time));
    if (item.who === "customer" && item.emotion) {
      meta.appendChild(el("span", "badge", label("emotions", item.emotion)));
    }
    if (item.who === "agent" && item.taboo && item.taboo.length) {
      meta.appendChild(el("span", "badge flag", "含禁忌用语"));
    }
    li.appendChild(meta);
    li.appendChild(el("p", null, item.text));
    var list = document.getElementById("transcript");
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
    document.getElementById("transcript-empty").classList.add("hidden");
    if (item.who === "customer") {
      emotions.push(item.emotion || "calm");
      renderSpark();
    }
  }

  // ---- analysis

  function reasonText(reason) {
    var parts = reason.split(":");
    var kind = parts[0], value = parts.slice(1).join(":");
    if (kind === "escalation") return "提及" + value.split(",").map(function (e) { return label("escalation", e); }).join("、");
    if (kind === "emotion") return "情绪" + label("emotions", value);
    if (kind === "amount") return "金额 " + money(value);
    if (kind === "trend") return "情绪上升";
    if (kind === "demand") return "诉求：" + label("demands", value);
    if (kind === "wants_person") return "要求找人工或领导";
    return reason;
  }

  function setText(id, text) {
    document.getElementById(id).textContent = text || "—";
  }

  function renderSpark() {
    var box = document.getElementById("a-spark");
    clear(box);
    if (!emotions.length) return;
    var NS = "http://www.w3.org/2000/svg";
    var width = 180, height = 40, pad = 5;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("role", "img");
    var levels = emotions.map(function (e) { return Math.max(0, ["calm", "confused", "anxious", "angry", "furious"].indexOf(e)); });
    svg.setAttribute("aria-label", "情绪走势：" + emotions.map(function (e) { return label("emotions", e); }).join("→"));
    var step = levels.length > 1 ? (width - 2 * pad) / (levels.length - 1) : 0;
    var points = levels.map(function (level, i) {
      return [pad + i * step, height - pad - level * (height - 2 * pad) / 4];
    });
    var axis = document.createElementNS(NS, "line");
    axis.setAttribute("class", "axis");
    axis.setAttribute("x1", pad); axis.setAttribute("x2", width - pad);
    axis.setAttribute("y1", height - pad); axis.setAttribute("y2", height - pad);
    svg.appendChild(axis);
    var line = document.createElementNS(NS, "polyline");
    line.setAttribute("points", points.map(function (p) { return p.join(","); }).join(" "));
    svg.appendChild(line);
    points.forEach(function (p, i) {
      var dot = document.createElementNS(NS, "circle");
      dot.setAttribute("cx", p[0]); dot.setAttribute("cy", p[1]); dot.setAttribute("r", 3.5);
      dot.setAttribute("class", "lvl-" + levels[i]);
      var title = document.createElementNS(NS, "title");
      title.textContent = "第" + (i + 1) + "轮：" + label("emotions", emotions[i]);
      dot.appendChild(title);
      svg.appendChild(dot);
    });
    box.appendChild(svg);
  }

  function renderAnalysis(a) {
    analysis = a || {};
    setText("a-cause", label("causes", a.cause) + (a.domain ? "（" + label("domains", a.domain) + "）" : ""));
    var intent = a.intent || {};
    setText("a-intent", intent.name ? label("causes", intent.name) + (a.low_confidence ? "（把握不大）" : "") : "");
    var emotion = a.emotion || {};
    setText("a-emotion", emotion.name ? label("emotions", emotion.name) +
            (a.emotion_peak && a.emotion_peak !== emotion.name ? "（最高：" + label("emotions", a.emotion_peak) + "）" : "") : "");
    document.getElementById("a-trend").textContent = TREND[a.emotion_trend] || "";
    var risk = document.getElementById("a-risk");
    clear(risk);
    if (a.risk) risk.appendChild(el("span", "badge risk-" + a.risk, label("risks", a.risk)));
    document.getElementById("a-reasons").textContent = (a.risk_reasons || []).map(reasonText).join("；");
    setText("a-stage", label("stages", a.stage));
    var flags = document.getElementById("a-escalation");
    clear(flags);
    (a.escalation || []).forEach(function (e) { flags.appendChild(el("span", "badge flag", label("escalation", e))); });
    if (!flags.firstChild) flags.textContent = "无";
    setText("a-demand", (a.demand || []).map(function (d) { return label("demands", d); }).join("、"));
    setText("a-amount", a.amount !== null && a.amount !== undefined ? money(a.amount) : "");
    var approval = a.approval;
    setText("a-approval", approval ? "第" + approval.tier + "级：" + approval.role_label : "");
  }

  function renderAlerts(alerts) {
    var box = document.getElementById("alerts");
    clear(box);
    (alerts || []).forEach(function (alert) {
      var div = el("div", "alert " + alert.kind);
      div.appendChild(el("span", "kind", label("alerts", alert.kind)));
      div.appendChild(el("span", null, alert.text));
      box.appendChild(div);
    });
  }

  function approverText(key) {
    if (key === "none") return "无需审批";
    if (key === "by_amount") {
      return analysis.approval ? "按金额：" + analysis.approval.role_label : "按金额确定";
    }
    return label("approvers", key);
  }

  function suggestionCard(s) {
    var card = el("div", "card");
    card.dataset.kind = s.kind;
    card.dataset.suggestionId = s.id;
    card.appendChild(el("div", "kind", label("kinds", s.kind)));
    card.appendChild(el("p", "text", s.text));
    if (s.kind === "choices" && s.options) card.appendChild(choiceCards(s.options, approverText));
    if (s.why) card.appendChild(whyBox(s.why));
    var actions = el("div", "card-actions");
    actions.appendChild(el("span", "source", s.source || ""));
    if (SUPERVISOR) {
      actions.appendChild(lineControls(s, function (text, isError) {
        var note = document.getElementById("suggestions-status");
        note.textContent = text || "";
        note.classList.toggle("error", !!isError);
      }));
    }
    var use = el("button", "use", "插入草稿");
    use.type = "button";
    use.addEventListener("click", function () { onUse(s); });
    actions.appendChild(use);
    card.appendChild(actions);
    return card;
  }

  function renderSuggestions(list) {
    var box = document.getElementById("suggestions");
    clear(box);
    if (!list || !list.length) { box.appendChild(el("p", "muted", "本轮没有建议。")); return; }
    list.forEach(function (s) { box.appendChild(suggestionCard(s)); });
  }

  function renderPanel(items) {
    renderKnowledge(document.getElementById("knowledge"), items);
  }

  return { addTurn: addTurn, renderAnalysis: renderAnalysis, renderAlerts: renderAlerts,
           renderSuggestions: renderSuggestions, renderKnowledge: renderPanel };
}
