/**
 * The console's whole "framework": create elements with text content only. Nothing here ever
 * parses HTML from a string, so data from the API or a wallet (names, use cases, wallet names)
 * cannot become markup.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];
export type AttrValue = string | number | boolean | null | undefined;
export interface Props {
  [name: string]: AttrValue | EventListener;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child as readonly Child[]);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** `h('button', { type: 'button', onclick: fn }, 'Save')`; `on*` props become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [name, value] of Object.entries(props)) {
      if (typeof value === 'function') el.addEventListener(name.slice(2), value);
      else if (value === true) el.setAttribute(name, '');
      else if (value === false || value === null || value === undefined) continue;
      else el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
/** Unique ids for label/control and aria-describedby pairs. */
export function uid(prefix: string): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
