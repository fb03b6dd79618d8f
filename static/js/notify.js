// Work that finishes while the designer looks elsewhere: a run (its page) or their jobs
// (the Generate page's tray) ending while the tab is hidden is told three ways: the tab
// title, until the tab is seen again; a desktop notification, if they asked for them
// (the Notification API: permission is asked on their click only, and the choice is kept
// in this browser); and a toast when they come back. Each page says when its work ended
// (runs.js, generate.js), from what the server drew, so push and polling alike bring it.
// While the tab is visible nothing is added: the page's own update shows the news.

import { toastRegion } from "./core.js";

const CHOICE_KEY = "nextry.notify";  // "on": this browser's designer asked for notifications
const TOAST_SECONDS = 12;

function hidden() {
  return document.visibilityState === "hidden";
}

// --- The opt-in control (data-notify-control): hidden where the API is missing.

function available() {
  return "Notification" in window && window.isSecureContext;
}
function wanted() {
  try {
    return window.localStorage.getItem(CHOICE_KEY) === "on";
  } catch {
    return false;  // storage refused (a private window's settings): never asked, never on
  }
}
function remember(on) {
  try {
    if (on) window.localStorage.setItem(CHOICE_KEY, "on");
    else window.localStorage.removeItem(CHOICE_KEY);
  } catch {
    // storage refused: the choice lasts as long as the page
  }
  drawControls();
}
function notifying() {
  return available() && Notification.permission === "granted" && wanted();
}
function controlState() {
  if (Notification.permission === "denied") return "blocked";
  return notifying() ? "on" : "off";
}
const STATE_TEXT = { on: "On", off: "Off", blocked: "Blocked by the browser" };

function drawControls() {
  if (!available()) return;
  document.querySelectorAll("[data-notify-control]").forEach(function (control) {
    const state = controlState();
    const button = control.querySelector("[data-notify-toggle]");
    button.setAttribute("aria-pressed", String(state === "on"));
    button.setAttribute("aria-disabled", String(state === "blocked"));
    const shown = control.querySelector("[data-notify-state]");
    shown.textContent = STATE_TEXT[state];
    shown.dataset.state = state;
    control.hidden = false;
  });
}

document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("[data-notify-toggle]");
  if (!button || !available()) return;
  if (notifying()) {
    remember(false);
  } else if (Notification.permission === "granted") {
    remember(true);
  } else if (Notification.permission === "default") {
    Notification.requestPermission().then(function (answer) { remember(answer === "granted"); });
  }
  // "denied": only the browser's site settings can change that; the control says so.
});

// --- The tab title, until the tab is seen again.

let titleNews = "";
function titlePrefix() {
  return titleNews ? titleNews + " · " : "";
}
function showInTitle() {
  // htmx sets the title a swapped part brings (a run's percentage): the news stays first.
  const prefix = titlePrefix();
  if (prefix && !document.title.startsWith(prefix)) document.title = prefix + document.title;
}
function clearTitle() {
  const prefix = titlePrefix();
  if (prefix && document.title.startsWith(prefix)) document.title = document.title.slice(prefix.length);
  titleNews = "";
}

// --- Toasts: in the page's one polite live region (core.js's failures use it too).

function dismiss(note) {
  if (!note.isConnected || note.classList.contains("is-leaving")) return;
  const hadFocus = note.contains(document.activeElement);
  note.classList.add("is-leaving");
  // Fades out (no motion where reduced motion is asked for: then at once).
  setTimeout(function () { note.remove(); }, window.matchMedia("(prefers-reduced-motion: reduce)").matches ? 0 : 300);
  if (hadFocus) document.getElementById("main").focus();
}

function showToast(text) {
  const note = document.createElement("div");
  note.className = "toast toast-news";
  note.dataset.notifyToast = "";
  const words = document.createElement("p");
  words.textContent = text;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-dismiss";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  close.addEventListener("click", function () { dismiss(note); });
  note.addEventListener("keydown", function (event) {
    if (event.key === "Escape") dismiss(note);
  });
  note.append(words, close);
  toastRegion().appendChild(note);
  // Hides by itself, but not while it is pointed at or focused.
  let left = TOAST_SECONDS;
  const timer = setInterval(function () {
    if (note.matches(":hover, :focus-within")) return;
    left -= 1;
    if (left <= 0 || !note.isConnected) {
      clearInterval(timer);
      dismiss(note);
    }
  }, 1000);
}

// --- Announcing.

let waiting = [];  // what to toast on return
let shownNotes = [];

// news: { title: the tab title's words, heading and body: the notification's, toast, tag }
export function finishedWhileAway(news) {
  if (!hidden()) return;
  clearTitle();  // an earlier news' words make way for the newest
  titleNews = news.title;
  showInTitle();
  waiting = waiting.filter(function (each) { return each.tag !== news.tag; }).concat([news]);
  if (notifying()) notify(news);
}
function notify(news) {
  let note;
  try {
    note = new Notification(news.heading, { body: news.body, tag: news.tag, lang: "en" });
  } catch {
    return;  // a browser that shows them only through a service worker (Chrome on Android)
  }
  note.onclick = function () {
    window.focus();
    note.close();
  };
  shownNotes.push(note);
}
document.addEventListener("visibilitychange", function () {
  if (hidden()) return;
  drawControls();  // the browser's site settings may have changed meanwhile
  clearTitle();
  shownNotes.forEach(function (note) { note.close(); });
  shownNotes = [];
  waiting.forEach(function (news) { showToast(news.toast); });
  waiting = [];
});
// A control a swap draws again (the tray's), shown at once.
document.addEventListener("htmx:afterSwap", drawControls);
document.addEventListener("htmx:oobAfterSwap", drawControls);
document.addEventListener("htmx:afterSettle", showInTitle);

toastRegion();  // present before anything is said in it, so screen readers follow it
drawControls();
