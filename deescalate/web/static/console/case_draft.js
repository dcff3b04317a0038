// Agent console, case page: the draft reply, its taboo check and sending it.
import { api, clear, el, label, status } from "./common.js";

// Wires the draft box of the case whose API is at `base`; returns `useSuggestion`.
export function setupDraft(base) {
  var draft = document.getElementById("draft");
  var draftStatus = document.getElementById("draft-status");
  var sendButton = document.getElementById("send");
  var suggestion = null;       // the suggestion the draft came from
  var taboo = [];              // taboo hits of the current draft
  var checkTimer = null;
  var checkSeq = 0;
  var confirmSend = false;

  function useSuggestion(s) {
    draft.value = s.text;
    suggestion = s;
    document.getElementById("draft-source").textContent = "（来自建议：" + label("kinds", s.kind) + "）";
    draft.focus();
    checkDraft();
    // Counted as an insert by script effectiveness; the draft does not wait for it.
    api("POST", base + "/insert", { suggestion_id: s.id }).catch(function () {});
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
      if (hit.label || hit.family) head.appendChild(el("span", "family", hit.label || hit.family));
      head.appendChild(el("span", "phrase", "“" + hit.matched + "”"));
      if (hit.phrase && hit.phrase !== hit.matched) head.appendChild(el("span", "muted", "（" + hit.phrase + "）"));
      li.appendChild(head);
      if (hit.family) li.dataset.family = hit.family;
      li.appendChild(el("p", "why", hit.why));
      if (hit.advice) li.appendChild(el("p", "advice muted", hit.advice));
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
      status(draftStatus, taboo.length ? "发现禁忌：" + taboo.map(function (hit) {
        return hit.label || hit.family || hit.phrase;
      }).join("、") : "未发现禁忌用语");
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

  return { useSuggestion: useSuggestion };
}
