// Agent console: live queue, case view, suggestions, draft taboo check, case record.
// Every string from the server is shown with textContent, never as HTML.
(function () {
  "use strict";

  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var PAGE = document.getElementById("page");
  var TREND = { rising: "↑ 上升", falling: "↓ 缓和", steady: "→ 平稳" };
  var WHO = { customer: "客户", agent: "坐席", bot: "智能客服" };
  var labels = {};

  // ------------------------------------------------------------ helpers

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function label(group, name) {
    if (!name) return "";
    return (labels[group] && labels[group][name]) || name;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function clock(value) {
    if (!value) return "";
    var date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return isNaN(date) ? "" : date.toLocaleTimeString("zh-CN", { hour12: false });
  }

  function money(amount) {
    return Number(amount).toLocaleString("zh-CN", { maximumFractionDigits: 2 }) + " 元";
  }

  function toLogin() {
    window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin",
                    headers: { "Accept": "application/json", "X-CSRF-Token": CSRF } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (reply) {
      if (reply.status === 401) { toLogin(); throw new Error("请先登录"); }
      return reply.json().catch(function () { return {}; }).then(function (data) {
        if (!reply.ok) throw new Error(data.message || ("请求失败（" + reply.status + "）"));
        return data;
      });
    });
  }

  function status(node, text, isError) {
    node.textContent = text || "";
    node.classList.toggle("error", !!isError);
  }

  // ------------------------------------------------------------ live stream and banner

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

  function openStream(query, handlers) {
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

  // ------------------------------------------------------------ queue page

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

  function queuePage() {
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

  // ------------------------------------------------------------ case page

  function casePage() {
    var caseId = PAGE.dataset.caseId;
    var base = "/console/api/case/" + encodeURIComponent(caseId);
    var seen = {};
    var emotions = [];
    var analysis = {};
    var draft = document.getElementById("draft");
    var draftStatus = document.getElementById("draft-status");
    var sendButton = document.getElementById("send");
    var suggestion = null;       // the suggestion the draft came from
    var taboo = [];              // taboo hits of the current draft
    var checkTimer = null;
    var checkSeq = 0;
    var confirmSend = false;
    var dirty = {};              // record fields edited and not yet saved
    var live = false;            // true once the case so far is shown

    // ---- transcript

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
      if (s.kind === "choices" && s.options) {
        var list = el("ol", "options");
        s.options.forEach(function (o) {
          var li = el("li");
          li.appendChild(el("div", null, o.text));
          li.appendChild(el("div", "detail", "含义：" + o.means));
          li.appendChild(el("div", "detail", "成本：" + o.cost));
          li.appendChild(el("div", "detail", "审批：" + approverText(o.approver)));
          list.appendChild(li);
        });
        card.appendChild(list);
      }
      var actions = el("div", "card-actions");
      actions.appendChild(el("span", "source", s.source || ""));
      var use = el("button", "use", "插入草稿");
      use.type = "button";
      use.addEventListener("click", function () { useSuggestion(s); });
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

    function applyItem(item) {
      var key = item.type + ":" + item.id;
      if (seen[key]) return;
      seen[key] = true;
      if (item.type === "turn") addTurn(item);
      if (item.type === "assist") {
        renderAnalysis(item.analysis || {});
        renderSuggestions(item.suggestions);
        renderAlerts(item.alerts);
        if (live) reloadRecord();   // the drafted narrative follows the new turn
      }
    }

    // ---- draft: suggestion, taboo check, send

    function useSuggestion(s) {
      draft.value = s.text;
      suggestion = s;
      document.getElementById("draft-source").textContent = "（来自建议：" + label("kinds", s.kind) + "）";
      draft.focus();
      checkDraft();
    }

    function replaceSpan(text, hit) {
      var lead = text.length - text.replace(/^\s+/, "").length;   // the server checks the trimmed text
      var chars = Array.from(text);
      var start = hit.start + lead, end = hit.end + lead;
      if (chars.slice(start, end).join("") === hit.matched) {
        chars.splice(start, end - start, hit.rewrite);
        return chars.join("");
      }
      var at = text.indexOf(hit.matched);
      return at < 0 ? text : text.slice(0, at) + hit.rewrite + text.slice(at + hit.matched.length);
    }

    function renderTaboo() {
      var list = document.getElementById("taboo-list");
      clear(list);
      taboo.forEach(function (hit) {
        var li = el("li", "taboo");
        var head = el("div");
        head.appendChild(el("span", "phrase", "禁忌用语：“" + hit.matched + "”"));
        if (hit.phrase && hit.phrase !== hit.matched) head.appendChild(el("span", "muted", "（" + hit.phrase + "）"));
        li.appendChild(head);
        li.appendChild(el("p", "why", hit.why));
        var fix = el("button", "fix", "改为：" + hit.rewrite);
        fix.type = "button";
        fix.addEventListener("click", function () {
          draft.value = replaceSpan(draft.value, hit);
          checkDraft();
        });
        li.appendChild(fix);
        list.appendChild(li);
      });
      confirmSend = false;
      sendButton.textContent = "发送";
    }

    function checkDraft() {
      clearTimeout(checkTimer);
      var text = draft.value;
      var seq = ++checkSeq;
      if (!text.trim()) { taboo = []; renderTaboo(); status(draftStatus, ""); return Promise.resolve(); }
      status(draftStatus, "检查中…");
      return api("POST", base + "/draft", { text: text }).then(function (answer) {
        if (seq !== checkSeq) return;
        taboo = answer.taboo || [];
        renderTaboo();
        status(draftStatus, taboo.length ? "发现 " + taboo.length + " 处禁忌用语" : "未发现禁忌用语");
      }).catch(function (error) {
        if (seq === checkSeq) status(draftStatus, error.message, true);
      });
    }

    draft.addEventListener("input", function () {
      clearTimeout(checkTimer);
      checkTimer = setTimeout(checkDraft, 400);
      if (!draft.value.trim()) {
        suggestion = null;
        document.getElementById("draft-source").textContent = "";
      }
    });

    sendButton.addEventListener("click", function () {
      var text = draft.value.trim();
      if (!text) { status(draftStatus, "草稿是空的", true); return; }
      if (taboo.length && !confirmSend) {
        confirmSend = true;
        sendButton.textContent = "仍然发送";
        status(draftStatus, "草稿含禁忌用语，建议先改写；确认无误可再次点击发送", true);
        return;
      }
      sendButton.disabled = true;
      api("POST", base + "/send", { text: text, suggestion_id: suggestion ? suggestion.id : null })
        .then(function () {
          draft.value = "";
          suggestion = null;
          taboo = [];
          renderTaboo();
          document.getElementById("draft-source").textContent = "";
          status(draftStatus, "已发送");
        })
        .catch(function (error) { status(draftStatus, error.message, true); })
        .then(function () { sendButton.disabled = false; });
    });

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

    // ---- case record

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

    // ---- start: labels, the case so far, then live updates

    api("GET", "/console/api/labels").then(function (data) {
      labels = data;
      return api("GET", base);
    }).then(function (snapshot) {
      snapshot.items.forEach(applyItem);
      fillRecord(snapshot.record, true);
      live = true;
      openStream("case=" + encodeURIComponent(caseId) + "&after=" + snapshot.last_event, {
        turn: applyItem,
        assist: applyItem,
        record: reloadRecord
      });
    }).catch(function (error) {
      document.getElementById("live-state").textContent = error.message;
    });
  }

  // ------------------------------------------------------------ start

  if (PAGE && PAGE.dataset.page === "queue") queuePage();
  else if (PAGE && PAGE.dataset.page === "case") casePage();
  else if (document.getElementById("risk-banner")) openStream("", {});
})();
