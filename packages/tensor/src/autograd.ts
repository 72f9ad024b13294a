// Reverse-mode autograd: graph nodes recorded by ops, backward() over a topological order,
// gradient accumulation into leaves, and the grad-mode switches.
import type { Tensor } from './tensor';
import type { OpDef, GradCtx } from './op';

let gradEnabled = true;

export function isGradEnabled(): boolean { return gradEnabled; }

/** Runs fn with gradient recording off (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try { return fn(); } finally { gradEnabled = prev; }
}

export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try { return fn(); } finally { gradEnabled = prev; }
}

/** One recorded op application. Saved tensors hold their own storage references until released. */
export class Node {
  released = false;
  constructor(
    readonly op: OpDef<any>,
    readonly inputs: (Tensor | null)[],   // the graph edges (null for inputs that need no grad)
    readonly ctx: GradCtx<any>,
    readonly numOutputs: number,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.ctx.saved) t?.dispose();
  }
}

export interface BackwardOptions {
  /** Keep saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into `.grad` of every leaf that requires grad.
 * `grad` defaults to ones for a scalar root.
 */
export function backward(root: Tensor, grad: Tensor | undefined, opts: BackwardOptions, h: {
  onesLike(t: Tensor): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  /** `owned`: g was made by backward itself (not the caller's tensor), so its buffer may be adopted. */
  accumulate(leaf: Tensor, g: Tensor, owned: boolean): void;
}): void {
  if (!root.requiresGrad) throw new Error('backward() on a tensor that does not require grad');
  if (!grad && root.size !== 1) throw new Error(`backward() needs a gradient argument for a non-scalar tensor of shape [${root.shape.join(', ')}]`);
  const rootNode = root.gradFn;
  noGrad(() => {
    const seed = grad ? grad : h.onesLike(root);
    if (!rootNode) { h.accumulate(root, seed, !grad); if (!grad) seed.dispose(); return; }

    // Topological order (iterative DFS, children first).
    const order: Node[] = [];
    const visited = new Set<Node>();
    const stack: [Node, number][] = [[rootNode, 0]];
    visited.add(rootNode);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [node, i] = top;
      if (i < node.inputs.length) {
        top[1]++;
        const inp = node.inputs[i];
        const child = inp?.gradFn;
        if (child && !visited.has(child)) { visited.add(child); stack.push([child, 0]); }
      } else {
        stack.pop();
        order.push(node);
      }
    }

    const pending = new Map<Node, (Tensor | null)[]>();
    const addTo = (node: Node, idx: number, g: Tensor) => {
      let arr = pending.get(node);
      if (!arr) { arr = new Array(node.numOutputs).fill(null); pending.set(node, arr); }
      const prev = arr[idx];
      if (prev) { arr[idx] = h.add(prev, g); prev.dispose(); g.dispose(); } else arr[idx] = g;
    };
    addTo(rootNode, root.outputIndex, grad ? seed.view(seed.shape) : seed);

    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      const gouts = pending.get(node);
      pending.delete(node);
      if (!gouts || gouts.every((g) => g === null)) { if (!opts.retainGraph) node.release(); continue; }
      if (node.released) throw new Error(`backward through op "${node.op.name}" a second time: its saved tensors were freed (use retainGraph)`);
      const gins = node.op.grad!(node.ctx, gouts);
      for (const g of gouts) g?.dispose();
      if (!opts.retainGraph) node.release();
      for (let i = 0; i < node.inputs.length; i++) {
        const inp = node.inputs[i];
        const g = gins[i];
        if (!inp || !g) { if (g && !inp) g.dispose(); continue; }
        if (!g.shapeEquals(inp.shape)) throw new Error(`op "${node.op.name}" produced a gradient of shape [${g.shape.join(', ')}] for an input of shape [${inp.shape.join(', ')}]`);
        if (inp.gradFn) addTo(inp.gradFn, inp.outputIndex, g);
        else { h.accumulate(inp, g, true); g.dispose(); }
      }
    }
  });
}
