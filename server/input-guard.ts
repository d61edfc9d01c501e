import { truncate } from '../core/errors.js';
import { unstorableText } from '../core/text.js';

/** Deepest nesting of objects and arrays taken in a request body, query or tRPC input (the value itself is level 1). */
export const MAX_INPUT_DEPTH = 32;

export interface InputProblem {
  /** Dotted path of the field at fault; '' for the input as a whole. */
  path: string;
  message: string;
}

interface Node {
  value: object;
  level: number;
  key: string | number | undefined;
  parent: Node | undefined;
}

function pathOf(node: Node | undefined, last?: string | number): (string | number)[] {
  const parts: (string | number)[] = last === undefined ? [] : [last];
  for (let n = node; n?.key !== undefined; n = n.parent) parts.unshift(n.key);
  return parts;
}

const dotted = (parts: (string | number)[]) => parts.map((p) => truncate(String(p))).join('.');

/**
 * One child of `node`: a string checked, an object or array put on the stack to walk. A function
 * of its own rather than a closure per node: tsx (which `npm start` runs under) names each closure it makes.
 */
function visit(stack: Node[], node: Node, child: unknown, key: string | number): InputProblem | undefined {
  if (typeof child === 'string') {
    const message = unstorableText(child);
    return message ? { path: dotted(pathOf(node, key)), message } : undefined;
  }
  if (child === null || typeof child !== 'object') return undefined;
  if (node.level >= MAX_INPUT_DEPTH) {
    // Named by the field the caller sent it in: the full path would be 32 segments long.
    const field = pathOf(node, key)[0];
    return { path: typeof field === 'string' ? truncate(field) : '', message: `nested deeper than ${MAX_INPUT_DEPTH} levels` };
  }
  stack.push({ value: child, level: node.level + 1, key, parent: node });
  return undefined;
}

/**
 * What no route or procedure can take, whatever its schema says, checked once for every request
 * before any schema runs: strings and object keys PostgreSQL would refuse (NUL, lone surrogates:
 * a database error, so a 500), and nesting deeper than MAX_INPUT_DEPTH (schemas, JSON.stringify and
 * PostgreSQL's jsonb all recurse, and overflow on a body nested 50,000 deep, which JSON.parse itself
 * reads fine). The walk keeps its own stack, so no input is too deep for it.
 *
 * Headers need no check: Node's HTTP parser answers a NUL in a header with 400 itself, and header
 * bytes are read as Latin-1, which has no surrogates.
 */
export function inputProblem(input: unknown): InputProblem | undefined {
  if (typeof input === 'string') {
    const message = unstorableText(input);
    return message ? { path: '', message } : undefined;
  }
  if (input === null || typeof input !== 'object') return undefined;
  const stack: Node[] = [{ value: input, level: 1, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    let problem: InputProblem | undefined;
    if (Array.isArray(node.value)) {
      for (let i = 0; i < node.value.length && !problem; i++) problem = visit(stack, node, node.value[i], i);
    } else {
      for (const key of Object.keys(node.value)) {
        const message = unstorableText(key);
        // The key itself is never echoed: it is what is wrong.
        if (message) return { path: dotted(pathOf(node)), message: `a field name ${message}` };
        problem = visit(stack, node, (node.value as Record<string, unknown>)[key], key);
        if (problem) break;
      }
    }
    if (problem) return problem;
  }
  return undefined;
}
