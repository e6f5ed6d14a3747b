/** Builds elements with text content only: user data never becomes markup. */
type Child = Node | string | number | null | undefined | false;

export function h<TTag extends keyof HTMLElementTagNameMap>(
  tag: TTag,
  attributes: Readonly<Record<string, string | boolean | undefined>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[TTag] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'object' ? child : String(child));
  }
  return element;
}

/** The element with this id; the page is static, so a missing one is a bug. */
export function byId<TElement extends HTMLElement = HTMLElement>(id: string): TElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`The page has no #${id}`);
  return element as TElement;
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
}

/** One line of a workflow's message list: when, and what, keyed by the event's item and id. */
export function messageLine(
  event: { readonly itemId: string; readonly eventId: string; readonly time: string },
  message: string,
  kind: string,
): HTMLLIElement {
  return h(
    'li',
    { class: `message message-${kind}`, 'data-item': event.itemId, 'data-event-id': event.eventId },
    h('time', { datetime: event.time }, formatTime(event.time)),
    h('span', { class: 'msg' }, message),
  );
}
