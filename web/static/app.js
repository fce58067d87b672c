// The dashboard reads the public status endpoints, and with an admin key
// the data endpoints that the running roles serve. No framework, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);

function row(dl, name, value, cls) {
  const dt = document.createElement("dt");
  dt.textContent = name;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (cls) dd.className = cls;
  dl.append(dt, dd);
}

async function loadStatus() {
  const v = await fetch("/version").then((r) => r.json());
  $("version").textContent = `${v.version} (${v.commit}) · roles: ${(v.roles || []).join(", ")}`;
  const r = await fetch("/readyz");
  const body = await r.json();
  $("ready").textContent = body.status;
  $("ready").className = r.ok ? "ok" : "bad";
  const dl = $("process");
  for (const [name, state] of Object.entries(body.checks || {})) {
    row(dl, name, state, state === "ok" ? "ok" : "bad");
  }
}

// Panels that exist only when their role runs here; 404 hides them.
const panels = [
  { title: "Corrections", path: "/corrections/stats" },
  { title: "Pattern versions", path: "/patterns/versions" },
  { title: "Deployments", path: "/deployments" },
];

async function loadData(key) {
  const out = $("panels");
  out.replaceChildren();
  let shown = 0;
  for (const p of panels) {
    const r = await fetch(p.path, { headers: { Authorization: `Bearer ${key}` } });
    if (r.status === 404) continue;
    const h = document.createElement("h3");
    h.textContent = p.title;
    const pre = document.createElement("pre");
    const body = await r.json();
    pre.textContent = r.ok ? JSON.stringify(body, null, 2) : `${r.status}: ${body.error && body.error.message}`;
    out.append(h, pre);
    shown++;
  }
  $("data").hidden = shown === 0;
  $("keystatus").textContent = shown === 0 ? "no data endpoints on this process" : "";
}

$("keyform").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("key").value.trim();
  sessionStorage.setItem("ocrpool.key", key);
  loadData(key).catch((err) => ($("keystatus").textContent = String(err)));
});

loadStatus().catch((err) => ($("ready").textContent = String(err)));
const saved = sessionStorage.getItem("ocrpool.key");
if (saved) loadData(saved).catch(() => {});
