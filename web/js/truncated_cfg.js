// Truncated CFG: the live step strip on the Truncated CFG Guider and model-patch nodes (drawn by step_strip.js).
// A DOM widget, so the same strip shows on the classic canvas and in Nodes 2.0. The server sends its events
// to the tab that queued the prompt, with the prompt's id; the strip takes only events of prompts this tab
// queued, and finds their node through the whole id path ("outer:inner" inside subgraphs). The state is kept
// in the node's properties, so it survives switching workflows and reopening the graph without re-running;
// a saved state that cannot be drawn (an older pack's, a file edited by hand) is dropped when it loads.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { MIN_HEIGHT, newState, render, stateFromLedger, validState } from "./step_strip.js";

const NODE_TYPES = new Set(["TruncatedCFGGuider", "TruncatedCFGModelPatch"]);
const PROPERTY = "truncated_cfg";
const WIDGET = "truncated_cfg_strip";
const ourPrompts = new Set(); // prompt ids ComfyUI announced to this tab (execution_start)

function rootGraph() {
  return app.rootGraph ?? app.graph;
}

function byId(graph, id) {
  // Frontends before 1.48 key nodes by number, later ones by string.
  return graph?.getNodeById(id) ?? graph?.getNodeById(Number(id)) ?? null;
}

// The node an execution id names: "5" in the root graph, "5:3" node 3 inside subgraph node 5, and so on.
function nodeForExecutionId(id) {
  const parts = String(id).split(":");
  let graph = rootGraph();
  for (const [i, part] of parts.entries()) {
    const node = byId(graph, part);
    if (!node || i === parts.length - 1) return node;
    graph = node.subgraph ?? null; // a subgraph node's own graph; any other node ends the path
  }
  return null;
}

function* allNodes(graph = rootGraph(), seen = new Set()) {
  for (const node of graph?._nodes ?? []) {
    yield node;
    if (node.subgraph && !seen.has(node.subgraph)) {
      seen.add(node.subgraph);
      yield* allNodes(node.subgraph, seen);
    }
  }
}

function stripOf(node) {
  return node.widgets?.find((w) => w.name === WIDGET);
}

function setState(node, state) {
  node.properties = node.properties || {};
  node.properties[PROPERTY] = state;
  const widget = stripOf(node);
  if (widget) render(widget.element, state);
  node.setDirtyCanvas?.(true, true);
}

function addStrip(node) {
  if (stripOf(node)) return;
  const root = document.createElement("div");
  root.className = "tcfg-strip";
  const widget = node.addDOMWidget(WIDGET, WIDGET, root, {
    serialize: false, // graphToPrompt skips it: never an input of the prompt
    getValue: () => null,
    setValue: () => {},
    getMinHeight: () => MIN_HEIGHT,
  });
  widget.serialize = false; // nor an entry of the saved workflow's widgets_values
  render(root, node.properties?.[PROPERTY] ?? null);
  fitStrip(node);
}

function fitStrip(node) {
  const min = node.computeSize();
  node.setSize([Math.max(node.size[0], min[0]), Math.max(node.size[1], min[1])]); // saved nodes may be smaller
}

// A node's saved state when a workflow loads: drawn if it is one this pack draws, dropped otherwise.
function restore(node) {
  const saved = node.properties?.[PROPERTY];
  if (saved !== undefined && !validState(saved)) delete node.properties[PROPERTY];
  const widget = stripOf(node);
  if (widget) render(widget.element, node.properties?.[PROPERTY] ?? null);
}

// The node an event of this pack is for: only for prompts this tab queued, and only a truncation node.
function eventNode(detail) {
  if (!ourPrompts.has(detail.prompt_id)) return null;
  const node = nodeForExecutionId(detail.node);
  return node && NODE_TYPES.has(node.type) ? node : null;
}

function onStart({ detail }) {
  const node = eventNode(detail);
  if (node) setState(node, newState(detail.steps, detail.switch_step, detail.prompt_id, detail.negative_model));
}

function onStep({ detail }) {
  const node = eventNode(detail);
  const state = node?.properties?.[PROPERTY];
  if (!state || state.done || state.promptId !== detail.prompt_id) return;
  for (const [step, kind] of detail.cells) {
    if (step < state.cells.length) state.cells[step] = kind;
  }
  state.current = detail.step;
  state.lastStep = detail.step;
  state.modelCalls = detail.model_calls;
  state.modelCallsCached = detail.model_calls_cached;
  state.modelCallsCore = detail.model_calls_core;
  state.modelCallsSaved = detail.model_calls_saved;
  state.negativeCalls = detail.negative_calls;
  state.negativeCallsCore = detail.negative_calls_core;
  setState(node, state);
}

function onLedger({ detail }) {
  const node = eventNode(detail);
  if (!node) return;
  const previous = node.properties?.[PROPERTY];
  setState(node, stateFromLedger(detail.ledger, detail.seconds, previous?.switchStep ?? null, detail.prompt_id,
    detail.outcome, detail.message, detail.negative_model));
}

// ComfyUI's own events for a prompt that stopped: any strip of that prompt still running ends there, whichever
// node raised (the pack's ledger event, when it came first, has already said how far sampling got).
function onStopped(outcome) {
  return ({ detail }) => {
    for (const node of allNodes()) {
      const state = node.properties?.[PROPERTY];
      if (!NODE_TYPES.has(node.type) || !state || state.done || state.promptId !== detail?.prompt_id) continue;
      setState(node, { ...state, done: true, current: -1, outcome, message: detail?.exception_message || "" });
    }
  };
}

app.registerExtension({
  name: "TruncatedCFG.StepStrip",
  async setup() {
    api.addEventListener("execution_start", ({ detail }) => ourPrompts.add(detail.prompt_id));
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
      restore(this);
      fitStrip(this);
      return result;
    };
  },
});
