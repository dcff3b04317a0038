/*
 * The website chat widget: a floating button and a chat panel.
 *
 * GET /widget.js wraps this file with the Socket.IO client and calls
 * mountChatWidget(io, config, script). It talks to Rasa's Socket.IO channel
 * (events user_uttered / bot_uttered, session_request / session_confirm).
 *
 * Every message, the customer's and the bot's, is shown with textContent,
 * never as HTML. Bot messages without text (custom payloads) are ignored.
 * The UI lives in a shadow root so the host page's CSS and ours do not mix.
 */
function mountChatWidget(io, config, script) {
  "use strict";
  if (window.__deescalateChatWidget) { return; }
  window.__deescalateChatWidget = true;

  var options = (script && script.dataset) || {};
  var title = options.title || config.title;
  var storageKey = "deescalate-chat:" + config.socketUrl;
  var maxStored = 200;
  var replyTimeoutMs = 45000;

  // ------------------------------------------------------------ state kept for the tab
  // sessionStorage: the conversation follows the customer across the bank's
  // pages in one tab, and is gone when the tab closes (shared computers).
  function loadState() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(storageKey) || "null");
      if (saved && Array.isArray(saved.messages)) { return saved; }
    } catch (ignored) { /* storage blocked or corrupt: start afresh */ }
    return { sessionId: null, messages: [], open: false };
  }

  function saveState() {
    state.messages = state.messages.slice(-maxStored);
    try { window.sessionStorage.setItem(storageKey, JSON.stringify(state)); } catch (ignored) { /* private mode */ }
  }

  var state = loadState();

  // ------------------------------------------------------------ DOM helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "launcher-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z" +
      "M5.5 10a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0zM10.5 10a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0z" +
      "M15.5 10a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0z");
    path.setAttribute("fill-rule", "evenodd");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var host = el("div");
  host.id = "deescalate-chat-widget";
  host.style.display = "none";  // shown once the stylesheet is in, so nothing flashes unstyled
  if (/^#[0-9a-fA-F]{3,8}$/.test(options.color || "")) { host.style.setProperty("--dx-accent", options.color); }
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;

  var stylesheet = el("link");
  stylesheet.rel = "stylesheet";
  stylesheet.href = config.cssUrl;
  stylesheet.onload = stylesheet.onerror = function () { host.style.display = ""; };
  root.appendChild(stylesheet);

  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "打开在线客服");
  launcher.setAttribute("aria-expanded", "false");
  launcher.appendChild(chatIcon());
  launcher.appendChild(el("span", "launcher-text", "在线客服"));
  var badge = el("span", "badge", "");
  badge.hidden = true;
  launcher.appendChild(badge);

  var panel = el("section", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  panel.hidden = true;

  var header = el("header", "header");
  var heading = el("div", "heading");
  heading.appendChild(el("strong", "title", title));
  heading.appendChild(el("span", "subtitle", config.subtitle));
  var closeButton = el("button", "close", "×");
  closeButton.type = "button";
  closeButton.setAttribute("aria-label", "关闭在线客服");
  header.appendChild(heading);
  header.appendChild(closeButton);

  var status = el("div", "status", "");
  status.setAttribute("role", "status");
  status.hidden = true;

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "对话记录");

  var typing = el("div", "msg bot typing", "客服正在输入…");
  typing.hidden = true;

  var form = el("form", "composer");
  var input = el("textarea", "input");
  input.rows = 1;
  input.maxLength = config.maxChars;
  input.placeholder = "请描述您遇到的问题…";
  input.setAttribute("aria-label", "输入消息");
  var sendButton = el("button", "send", "发送");
  sendButton.type = "submit";
  var humanButton = el("button", "human", "转人工");
  humanButton.type = "button";
  humanButton.title = "请人工客服接手";
  form.appendChild(input);
  form.appendChild(sendButton);

  var tools = el("div", "tools");
  tools.appendChild(el("span", "privacy", config.privacyNote));
  tools.appendChild(humanButton);

  panel.appendChild(header);
  panel.appendChild(status);
  panel.appendChild(log);
  panel.appendChild(tools);
  panel.appendChild(form);
  root.appendChild(launcher);
  root.appendChild(panel);

  // ------------------------------------------------------------ rendering
  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  function renderButtons(bubble, buttons, live) {
    var group = el("div", "choices");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "可选的处理方式");
    buttons.forEach(function (button) {
      var choice = el("button", "choice", button.title);
      choice.type = "button";
      choice.disabled = !live;
      choice.addEventListener("click", function () {
        Array.prototype.forEach.call(group.querySelectorAll("button"), function (b) { b.disabled = true; });
        choice.classList.add("chosen");
        choice.setAttribute("aria-pressed", "true");
        send(button.payload || button.title, button.title);
      });
      group.appendChild(choice);
    });
    bubble.appendChild(group);
  }

  function renderMessage(message, live) {
    var bubble = el("div", "msg " + (message.from === "user" ? "user" : "bot"));
    bubble.appendChild(el("p", "text", message.text));
    if (message.buttons && message.buttons.length) { renderButtons(bubble, message.buttons, live); }
    log.insertBefore(bubble, typing);
    scrollToEnd();
  }

  function addMessage(message) {
    state.messages.push(message);
    saveState();
    renderMessage(message, true);
  }

  function buttonsOf(data) {
    var list = data.quick_replies || data.buttons || [];
    return Array.isArray(list) ? list.filter(function (b) {
      return b && typeof b.title === "string" && b.title.trim();
    }).map(function (b) {
      return { title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title };
    }) : [];
  }

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  var typingTimer = null;
  function showTyping(on) {
    typing.hidden = !on;
    window.clearTimeout(typingTimer);
    if (on) {
      typingTimer = window.setTimeout(function () {
        typing.hidden = true;
        setStatus("客服回复较慢，请稍候；如情况紧急，请拨打客服热线。");
      }, replyTimeoutMs);
      scrollToEnd();
    }
  }

  // ------------------------------------------------------------ the connection
  var socket = io(config.socketUrl, { path: config.socketPath, autoConnect: false });
  var ready = false;
  var outbox = [];

  socket.on("connect", function () {
    setStatus("");
    socket.emit("session_request", { session_id: state.sessionId });
  });

  socket.on("session_confirm", function (sessionId) {
    var id = typeof sessionId === "string" ? sessionId : (sessionId && sessionId.session_id);
    if (!id) { return; }
    state.sessionId = id;
    saveState();
    ready = true;
    while (outbox.length) { socket.emit("user_uttered", { message: outbox.shift(), session_id: id }); }
  });

  socket.on("bot_uttered", function (data) {
    if (!data || typeof data.text !== "string" || !data.text.trim()) { return; }  // custom payloads etc.
    showTyping(false);
    setStatus("");
    addMessage({ from: "bot", text: data.text, buttons: buttonsOf(data) });
    if (panel.hidden) {
      badge.hidden = false;
      badge.textContent = String(Number(badge.textContent || 0) + 1);
    }
  });

  socket.on("disconnect", function () {
    ready = false;
    setStatus("连接已断开，正在重新连接…");
  });

  socket.on("connect_error", function () {
    ready = false;
    setStatus("暂时连不上在线客服，正在重试；如情况紧急，请拨打客服热线。");
  });

  function send(text, shown) {
    text = String(text || "").trim();
    if (!text) { return; }
    if (text.length > config.maxChars) { text = text.slice(0, config.maxChars); }
    // Offered choices answer the turn they came with: once the customer speaks, they are spent.
    Array.prototype.forEach.call(log.querySelectorAll(".choice"), function (b) { b.disabled = true; });
    addMessage({ from: "user", text: shown || text });
    if (ready) {
      socket.emit("user_uttered", { message: text, session_id: state.sessionId });
    } else {
      outbox.push(text);
      if (!socket.active) { socket.connect(); }
    }
    showTyping(true);
  }

  // ------------------------------------------------------------ open, close, send
  function openPanel() {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    host.classList.add("open");
    launcher.classList.add("behind");
    badge.hidden = true;
    badge.textContent = "";
    state.open = true;
    saveState();
    if (!socket.active) { socket.connect(); }
    scrollToEnd();
    input.focus();
  }

  function closePanel() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.classList.remove("behind");
    state.open = false;
    saveState();
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) { openPanel(); } else { closePanel(); } });
  closeButton.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { closePanel(); } });
  humanButton.addEventListener("click", function () { send("转人工"); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {  // IME composition keeps Enter
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  // ------------------------------------------------------------ start
  log.appendChild(typing);
  if (!state.messages.length) {
    state.messages.push({ from: "bot", text: config.greeting, buttons: [] });
  }
  state.messages.forEach(function (message, index) {
    renderMessage(message, index === state.messages.length - 1);
  });

  function attach() {
    document.body.appendChild(host);
    if (state.open || options.open === "true") { openPanel(); }
  }
  if (document.body) { attach(); } else { document.addEventListener("DOMContentLoaded", attach); }
}
