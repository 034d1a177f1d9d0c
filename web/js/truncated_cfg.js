// Truncated CFG: a live step strip on the Truncated CFG Guider and model-patch nodes.
// One cell per sampling step (full CFG, refreshed, one branch kept, guidance reused, answered by a step cache,
// not yet run) with a
// legend, the current step marked, the Wan expert switch drawn as a line, the model calls saved and the
// wall time, a run that was interrupted or failed said so, and after the run a chart of
// |cond - uncond| / |cond| on the full-CFG steps. The state is kept in the node's properties, so it
// survives switching workflows and reopening the graph without re-running.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const NODE_TYPES = new Set(["TruncatedCFGGuider", "TruncatedCFGModelPatch"]);
const PROPERTY = "truncated_cfg";
const HEIGHT = 108;
// One colour and legend label per kind of step the ledger names (sampling/ledger.py: StepRecord.kind).
const COLORS = {
  full: "#3d7fd6", refresh: "#8ec1ff", cond: "#e0912f", uncond: "#a155c9", reuse: "#2fb58f", cache: "#d87093",
  empty: "#3a3a3a",
};
const LEGEND = [
  ["full", "full CFG"], ["refresh", "refreshed"], ["reuse", "reused guidance"], ["cond", "kept cond"],
  ["uncond", "kept uncond"], ["cache", "from cache"],
];
const OUTCOME_COLORS = { interrupted: "#e8c547", failed: "#e5534b" };
const CHART_TIP = "|cond - uncond| / |cond| on each full-CFG step: how much guidance still changes the "
  + "prediction. Where the line flattens near its floor, later steps could be truncated too.";

function nodeFor(id) {
  const graph = app.graph;
  if (!graph) return null;
  const last = String(id).split(":").pop(); // nodes inside subgraphs carry "outer:inner" ids
  // Frontends before 1.48 key nodes by number, later ones by string.
  return graph.getNodeById(Number(last)) || graph.getNodeById(last) || null;
}

function setState(node, state) {
  node.properties = node.properties || {};
  node.properties[PROPERTY] = state;
  node.setDirtyCanvas(true, true);
}

function fromLedger(ledger, seconds, switchStep, outcome, message) {
  const cells = ledger.steps.map((s) => s.kind);
  const relDiff = ledger.steps
    .filter((s) => s.full && s.relative_difference !== null)
    .map((s) => [s.index, s.relative_difference]);
  const ran = ledger.steps.filter((s) => s.sampler_calls > 0).map((s) => s.index);
  return {
    steps: ledger.steps.length, cells, current: -1, switchStep, modelCalls: ledger.model_calls,
    modelCallsFull: ledger.model_calls_full_cfg, seconds, relDiff, done: true, updates: 0,
    outcome: outcome || "finished", message: message || "", lastStep: ran.length ? ran[ran.length - 1] : -1,
  };
}

function statusText(state) {
  const saved = state.modelCallsFull ? (100 * (1 - state.modelCalls / state.modelCallsFull)).toFixed(1) : "0.0";
  let text = `model calls ${state.modelCalls} / ${state.modelCallsFull} · ${saved}% saved`;
  if (state.seconds) text += ` · ${state.seconds.toFixed(1)} s`;
  if (state.outcome === "interrupted" || state.outcome === "failed") {
    const where = state.lastStep >= 0 ? ` at step ${state.lastStep + 1} of ${state.steps}` : " before sampling";
    text = `${state.outcome}${where} · ${text}`;
  }
  return text;
}

function drawLegend(ctx, state, x0, y) {
  const present = new Set(state.cells.filter((c) => c));
  let x = x0;
  ctx.font = "10px sans-serif";
  for (const [kind, label] of LEGEND) {
    if (!present.has(kind)) continue;
    ctx.fillStyle = COLORS[kind];
    ctx.fillRect(x, y - 8, 9, 9);
    ctx.fillStyle = "#aaa";
    ctx.fillText(label, x + 12, y);
    x += 18 + ctx.measureText(label).width;
  }
}

function drawStrip(ctx, node, width, y) {
  const state = node.properties?.[PROPERTY];
  const x0 = 12;
  const w = Math.max(width - 24, 10);
  ctx.save();
  ctx.font = "11px sans-serif";
  if (!state) {
    ctx.fillStyle = "#888";
    ctx.fillText("Truncated CFG: the step strip fills in when sampling runs", x0, y + 18);
    ctx.restore();
    return;
  }
  const n = Math.max(state.steps, 1);
  const cw = w / n;
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = COLORS[state.cells[i] || "empty"];
    ctx.fillRect(x0 + i * cw, y + 4, Math.max(cw - (cw > 3 ? 1 : 0), 1), 14);
  }
  if (state.current >= 0 && !state.done) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(x0 + state.current * cw, y + 3, Math.max(cw, 2), 16);
  }
  if (state.switchStep !== null && state.switchStep !== undefined && state.switchStep < n) {
    ctx.strokeStyle = "#f2d43d";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x0 + state.switchStep * cw, y + 1);
    ctx.lineTo(x0 + state.switchStep * cw, y + 21);
    ctx.stroke();
  }
  ctx.fillStyle = OUTCOME_COLORS[state.outcome] || "#ddd";
  ctx.fillText(statusText(state), x0, y + 33);
  drawLegend(ctx, state, x0, y + 48);
  ctx.font = "11px sans-serif";
  if (state.done && state.relDiff.length > 0) {
    const top = y + 56;
    const h = HEIGHT - 62;
    const max = Math.max(...state.relDiff.map((p) => p[1]), 1e-6);
    ctx.strokeStyle = "#555";
    ctx.strokeRect(x0, top, w, h);
    ctx.strokeStyle = COLORS.full;
    ctx.fillStyle = COLORS.full;
    ctx.beginPath();
    state.relDiff.forEach(([step, value], k) => {
      const px = x0 + (step + 0.5) * cw;
      const py = top + h - (value / max) * (h - 4) - 2;
      if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    ctx.stroke();
    for (const [step, value] of state.relDiff) {
      ctx.fillRect(x0 + (step + 0.5) * cw - 1.5, top + h - (value / max) * (h - 4) - 3.5, 3, 3);
    }
    ctx.fillStyle = "#888";
    ctx.textAlign = "right";
    ctx.fillText(`|c−u|/|c| ≤ ${max.toFixed(3)}`, x0 + w - 4, top + h - 4);
  }
  ctx.restore();
}

function addStrip(node) {
  if (node.widgets?.some((w) => w.name === "truncated_cfg_strip")) return;
  const widget = node.addCustomWidget({
    name: "truncated_cfg_strip",
    type: "truncated_cfg_strip",
    value: null,
    options: { serialize: false }, // graphToPrompt skips it: never an input of the prompt
    tooltip: CHART_TIP,
    draw(ctx, n, width, y) { drawStrip(ctx, n, width, y); },
    computeSize(width) { return [width, HEIGHT]; },
  });
  widget.serialize = false; // nor an entry of the saved workflow's widgets_values
  const min = node.computeSize();
  node.setSize([Math.max(node.size[0], min[0]), Math.max(node.size[1], min[1])]);
}

function onStart({ detail }) {
  const node = nodeFor(detail.node);
  if (!node) return;
  setState(node, {
    steps: detail.steps, cells: new Array(detail.steps).fill(null), current: -1,
    switchStep: detail.switch_step, modelCalls: 0, modelCallsFull: 0, seconds: null, relDiff: [],
    done: false, updates: 0, outcome: "running", message: "", lastStep: -1,
  });
}

function onStep({ detail }) {
  const node = nodeFor(detail.node);
  const state = node?.properties?.[PROPERTY];
  if (!state || state.done) return;
  for (const [step, kind] of detail.cells) {
    if (step < state.cells.length) state.cells[step] = kind;
  }
  state.current = detail.step;
  state.lastStep = detail.step;
  state.modelCalls = detail.model_calls;
  state.modelCallsFull = detail.model_calls_full_cfg;
  state.updates += 1;
  setState(node, state);
}

function onLedger({ detail }) {
  const node = nodeFor(detail.node);
  if (!node) return;
  const previous = node.properties?.[PROPERTY];
  const state = fromLedger(detail.ledger, detail.seconds, previous?.switchStep ?? null, detail.outcome,
    detail.message);
  state.updates = previous?.updates ?? 0;
  setState(node, state);
}

// ComfyUI's own events for a prompt that stopped: any strip still running ends there, whichever node
// raised (the pack's ledger event, when it came first, has already said how far sampling got).
function onStopped(outcome) {
  return ({ detail }) => {
    for (const node of app.graph?._nodes || []) {
      const state = node.properties?.[PROPERTY];
      if (!NODE_TYPES.has(node.type) || !state || state.done) continue;
      state.done = true;
      state.current = -1;
      state.outcome = outcome;
      state.message = detail?.exception_message || "";
      setState(node, state);
    }
  };
}

app.registerExtension({
  name: "TruncatedCFG.StepStrip",
  async setup() {
    api.addEventListener("truncated_cfg.start", onStart);
    api.addEventListener("truncated_cfg.step", onStep);
    api.addEventListener("truncated_cfg.ledger", onLedger);
    api.addEventListener("execution_interrupted", onStopped("interrupted"));
    api.addEventListener("execution_error", onStopped("failed"));
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODE_TYPES.has(nodeData.name)) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      addStrip(this);
      return result;
    };
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function () {
      const result = onConfigure?.apply(this, arguments);
      addStrip(this); // a saved node may be smaller than the strip needs
      return result;
    };
  },
});
