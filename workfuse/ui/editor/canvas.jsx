// The workflow canvas: React Flow with WorkFuse's node look.
//
// The canvas keeps its own copy of the nodes so that dragging stays in the browser;
// the Python state hears about a change only when it is complete: a drag ended
// (onNodesMoved), an edge was drawn (onConnectNodes), items were deleted
// (onDeleteItems), something was selected (onSelectItem), a node type was dropped
// from the palette (onDropNode), Ctrl/Cmd+S was pressed (onSave). With `readOnly`
// (an execution's graph) nodes can be clicked but not moved, connected or deleted. Whenever the
// `nodes`/`edges` props change, the local copy is replaced by them (keeping the
// measured sizes, so nodes do not flicker). A node whose handles change (a condition's
// branch renamed or added) has React Flow measure its handles again, or the new
// handles could neither start nor end an edge until the page was reloaded.
import React, {
  Suspense,
  lazy,
  memo,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
} from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  useUpdateNodeInternals,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { Box, GitBranch, Globe, Shuffle, Sparkles, Zap } from "lucide-react";

// Lucide icons by the names node types declare (NodeSpec.icon). Other names (a node
// type from WORKFUSE_NODE_MODULES) load Lucide's dynamic icon on first use, showing a
// box meanwhile, so the canvas bundle does not carry every icon.
const ICONS = { zap: Zap, globe: Globe, shuffle: Shuffle, "git-branch": GitBranch, sparkles: Sparkles };
const DynamicIcon = lazy(() =>
  import("lucide-react/dynamic.mjs").then((module) => ({ default: module.DynamicIcon })),
);

function NodeIcon({ name }) {
  const Known = ICONS[name];
  if (Known) return <Known size={16} strokeWidth={2.2} />;
  const fallback = <Box size={16} strokeWidth={2.2} />;
  if (!name) return fallback;
  return (
    <Suspense fallback={fallback}>
      <DynamicIcon name={name} size={16} strokeWidth={2.2} fallback={() => fallback} />
    </Suspense>
  );
}

// Has React Flow measure the node's handles again when their names change (not on
// the first render: React Flow measures a new node itself).
function useHandlesMeasured(nodeId, handleKey) {
  const updateNodeInternals = useUpdateNodeInternals();
  const measuredKey = useRef(handleKey);
  useEffect(() => {
    if (measuredKey.current === handleKey) return;
    measuredKey.current = handleKey;
    updateNodeInternals(nodeId);
  }, [nodeId, handleKey, updateNodeInternals]);
}

const PALETTE_MIME = "application/x-workfuse-node-type";

const STATUS_COLOURS = {
  PENDING: "#94a3b8",
  RUNNING: "#3b82f6",
  RETRYING: "#f59e0b",
  SUCCEEDED: "#16a34a",
  FAILED: "#dc2626",
  SKIPPED: "#cbd5e1",
};

function StatusDot({ status }) {
  if (!status) return null;
  const colour = STATUS_COLOURS[status] || "#94a3b8";
  const pulsing = status === "RUNNING" || status === "RETRYING";
  return (
    <span
      data-testid="node-status"
      data-status={status}
      title={status.toLowerCase()}
      style={{
        display: "inline-flex",
        alignItems: "center",
        gap: 4,
        fontSize: 10,
        fontWeight: 600,
        color: colour,
        textTransform: "lowercase",
      }}
    >
      <span
        style={{
          width: 8,
          height: 8,
          borderRadius: 8,
          background: colour,
          animation: pulsing ? "workfuse-pulse 1s ease-in-out infinite" : undefined,
        }}
      />
      {status}
    </span>
  );
}

function WorkflowNodeCard({ id, data, selected }) {
  const problems = data.problems || [];
  const hasProblem = problems.length > 0;
  const border = hasProblem ? "#dc2626" : selected ? data.colour : "#cbd5e1";
  const outputs = data.outputs || [];
  useHandlesMeasured(id, `${data.hasInput ? "in" : ""}|${outputs.join("\u0000")}`);
  return (
    <div
      data-testid="canvas-node"
      data-node-id={data.nodeId}
      data-node-type={data.nodeType}
      data-invalid={hasProblem ? "true" : "false"}
      title={hasProblem ? problems.join("\n") : data.description}
      style={{
        minWidth: 180,
        maxWidth: 240,
        background: "white",
        border: `${hasProblem || selected ? 2 : 1}px solid ${border}`,
        borderRadius: 10,
        boxShadow: selected ? `0 0 0 4px ${data.colour}22` : "0 1px 3px rgba(15,23,42,0.12)",
        fontFamily: "inherit",
      }}
    >
      {data.hasInput && <Handle type="target" position={Position.Left} id="in" />}
      <div style={{ display: "flex", alignItems: "center", gap: 8, padding: "8px 10px" }}>
        <span
          style={{
            display: "inline-flex",
            width: 28,
            height: 28,
            borderRadius: 7,
            alignItems: "center",
            justifyContent: "center",
            background: `${data.colour}1f`,
            color: data.colour,
            flexShrink: 0,
          }}
        >
          <NodeIcon name={data.icon} />
        </span>
        <div style={{ minWidth: 0, flex: 1 }}>
          <div
            style={{
              fontSize: 13,
              fontWeight: 600,
              color: "#0f172a",
              whiteSpace: "nowrap",
              overflow: "hidden",
              textOverflow: "ellipsis",
            }}
          >
            {data.label}
          </div>
          <div style={{ fontSize: 11, color: "#64748b", display: "flex", gap: 6 }}>
            <span>{data.typeLabel}</span>
            <StatusDot status={data.status} />
          </div>
        </div>
        {hasProblem && (
          <span
            data-testid="node-problem"
            style={{ color: "#dc2626", fontWeight: 700, fontSize: 14 }}
            aria-label={`${problems.length} problem(s)`}
          >
            !
          </span>
        )}
      </div>
      {outputs.length > 1 && (
        <div style={{ borderTop: "1px solid #e2e8f0", padding: "4px 0" }}>
          {outputs.map((handle) => (
            <div
              key={handle}
              style={{
                position: "relative",
                fontSize: 11,
                color: "#475569",
                textAlign: "right",
                padding: "2px 14px 2px 10px",
              }}
            >
              {handle}
              <Handle
                type="source"
                position={Position.Right}
                id={handle}
                data-testid={`handle-${handle}`}
                style={{ top: "50%" }}
              />
            </div>
          ))}
        </div>
      )}
      {outputs.length === 1 && (
        <Handle type="source" position={Position.Right} id={outputs[0]} />
      )}
    </div>
  );
}

const NODE_TYPES = { workfuse: memo(WorkflowNodeCard) };

function toFlowNodes(nodes, previous) {
  const measured = new Map(previous.map((node) => [node.id, node.measured]));
  return nodes.map((node) => ({
    id: node.id,
    type: "workfuse",
    position: node.position,
    selected: node.selected,
    measured: measured.get(node.id),
    data: node,
  }));
}

function toFlowEdges(edges) {
  return edges.map((edge) => ({
    id: edge.id,
    source: edge.source,
    target: edge.target,
    sourceHandle: edge.sourceHandle || null,
    targetHandle: edge.targetHandle || null,
    selected: edge.selected,
    label: edge.label || undefined,
    animated: Boolean(edge.animated),
    style: edge.problem ? { stroke: "#dc2626", strokeWidth: 2 } : undefined,
    data: { problem: edge.problem },
  }));
}

// The items with none selected (the same array when none was: no re-render).
function unselected(items) {
  if (!items.some((item) => item.selected)) return items;
  return items.map((item) => (item.selected ? { ...item, selected: false } : item));
}

function Canvas({
  nodes,
  edges,
  dirty,
  readOnly,
  onNodesMoved,
  onConnectNodes,
  onDeleteItems,
  onSelectItem,
  onDropNode,
  onSave,
}) {
  const [flowNodes, setFlowNodes] = useState(() => toFlowNodes(nodes || [], []));
  const [flowEdges, setFlowEdges] = useState(() => toFlowEdges(edges || []));
  const flow = useReactFlow();
  const wrapper = useRef(null);

  // A node added from the palette may land outside the visible area: pan to it.
  const knownIds = useRef(null);
  useEffect(() => {
    setFlowNodes((previous) => toFlowNodes(nodes || [], previous));
    const ids = new Set((nodes || []).map((node) => node.id));
    const added = knownIds.current ? (nodes || []).filter((n) => !knownIds.current.has(n.id)) : [];
    knownIds.current = ids;
    const box = wrapper.current && wrapper.current.getBoundingClientRect();
    if (added.length !== 1 || !box) return;
    const { x, y, zoom } = flow.getViewport();
    const at = added[0].position;
    const left = at.x * zoom + x;
    const top = at.y * zoom + y;
    if (left < 0 || top < 0 || left + 200 * zoom > box.width || top + 60 * zoom > box.height) {
      flow.setCenter(at.x + 100, at.y + 30, { zoom, duration: 250 });
    }
  }, [nodes, flow]);
  useEffect(() => {
    setFlowEdges(toFlowEdges(edges || []));
  }, [edges]);

  // Ctrl/Cmd+S saves, Escape deselects, and leaving with unsaved changes asks first.
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  useEffect(() => {
    const onKey = (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        if (onSave) onSave();
      } else if (event.key === "Escape" && onSelectItem) {
        // React Flow unselects on Escape only while the node itself has focus; clear
        // its selection here too, or the highlight stays while the panel deselects.
        setFlowNodes(unselected);
        setFlowEdges(unselected);
        onSelectItem({ kind: "none", id: "" });
      }
    };
    const onBeforeUnload = (event) => {
      if (dirtyRef.current) {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    const onDragStart = (event) => {
      const item = event.target.closest && event.target.closest("[data-palette-type]");
      if (item && event.dataTransfer) {
        event.dataTransfer.setData(PALETTE_MIME, item.getAttribute("data-palette-type"));
        event.dataTransfer.effectAllowed = "copy";
      }
    };
    // Links inside the app navigate without unloading the page: ask before those too.
    const onLinkClick = (event) => {
      const link = event.target.closest && event.target.closest("a[href]");
      if (!link || !dirtyRef.current || link.target === "_blank") return;
      if (!window.confirm("This workflow has unsaved changes. Leave without saving?")) {
        event.preventDefault();
        event.stopPropagation();
      }
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("beforeunload", onBeforeUnload);
    document.addEventListener("dragstart", onDragStart);
    document.addEventListener("click", onLinkClick, true);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("beforeunload", onBeforeUnload);
      document.removeEventListener("dragstart", onDragStart);
      document.removeEventListener("click", onLinkClick, true);
    };
  }, [onSave, onSelectItem]);

  const onNodesChange = useCallback(
    (changes) => setFlowNodes((current) => applyNodeChanges(changes, current)),
    [],
  );
  const onEdgesChange = useCallback(
    (changes) => setFlowEdges((current) => applyEdgeChanges(changes, current)),
    [],
  );
  const onNodeDragStop = useCallback(
    (_event, _node, dragged) => {
      if (!onNodesMoved) return;
      onNodesMoved(
        dragged.map((node) => ({
          id: node.id,
          x: Math.round(node.position.x),
          y: Math.round(node.position.y),
        })),
      );
    },
    [onNodesMoved],
  );
  const onConnect = useCallback(
    (connection) => onConnectNodes && onConnectNodes(connection),
    [onConnectNodes],
  );
  const onDelete = useCallback(
    ({ nodes: deletedNodes, edges: deletedEdges }) =>
      onDeleteItems &&
      onDeleteItems({
        nodes: deletedNodes.map((node) => node.id),
        edges: deletedEdges.map((edge) => edge.id),
      }),
    [onDeleteItems],
  );
  const onNodeClick = useCallback(
    (_event, node) => onSelectItem && onSelectItem({ kind: "node", id: node.id }),
    [onSelectItem],
  );
  const onEdgeClick = useCallback(
    (_event, edge) => onSelectItem && onSelectItem({ kind: "edge", id: edge.id }),
    [onSelectItem],
  );
  const onPaneClick = useCallback(
    () => onSelectItem && onSelectItem({ kind: "none", id: "" }),
    [onSelectItem],
  );
  const onDragOver = useCallback((event) => {
    if (event.dataTransfer.types.includes(PALETTE_MIME)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    }
  }, []);
  const onDrop = useCallback(
    (event) => {
      const nodeType = event.dataTransfer.getData(PALETTE_MIME);
      if (!nodeType || !onDropNode) return;
      event.preventDefault();
      const at = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      onDropNode({ type: nodeType, x: Math.round(at.x), y: Math.round(at.y) });
    },
    [flow, onDropNode],
  );
  const miniMapColour = useCallback((node) => node.data.colour || "#94a3b8", []);
  const fitViewOptions = useMemo(() => ({ padding: 0.2, maxZoom: 1 }), []);

  return (
    <div
      ref={wrapper}
      data-testid="workflow-canvas"
      style={{ width: "100%", height: "100%" }}
      onDragOver={onDragOver}
      onDrop={onDrop}
    >
      <style>{"@keyframes workfuse-pulse{0%,100%{opacity:1}50%{opacity:.35}}"}</style>
      <ReactFlow
        nodes={flowNodes}
        edges={flowEdges}
        nodeTypes={NODE_TYPES}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onNodeDragStop={onNodeDragStop}
        onConnect={onConnect}
        onDelete={onDelete}
        onNodeClick={onNodeClick}
        onEdgeClick={onEdgeClick}
        onPaneClick={onPaneClick}
        deleteKeyCode={readOnly ? null : ["Delete", "Backspace"]}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        fitView
        fitViewOptions={fitViewOptions}
        onlyRenderVisibleElements
        minZoom={0.1}
        proOptions={{ hideAttribution: true }}
        defaultEdgeOptions={{ style: { strokeWidth: 1.5 } }}
      >
        <Background gap={18} size={1} color="#cbd5e1" />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable nodeColor={miniMapColour} style={{ height: 90, width: 140 }} />
      </ReactFlow>
    </div>
  );
}

export function WorkflowCanvas(props) {
  return (
    <ReactFlowProvider>
      <Canvas {...props} />
    </ReactFlowProvider>
  );
}
