/**
 * Server-rendered HTML for the manager's pages: escaping, one layout, forms that carry the
 * anti-forgery token. The pages work without JavaScript; the only script (the logout walk's
 * probe) runs under a per-response nonce.
 */
import { randomBytes } from 'node:crypto';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Tagged template: interpolations are escaped unless they are `Raw` (already HTML). */
export class Raw {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0]!;
  values.forEach((v, i) => {
    const part = Array.isArray(v)
      ? v.map((x) => (x instanceof Raw ? x.html : esc(x))).join('')
      : v instanceof Raw
        ? v.html
        : esc(v);
    out += part + strings[i + 1]!;
  });
  return new Raw(out);
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#5b6470;--line:#d6dae0;--accent:#2256c5;--err:#b3261e}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--bg:#14171b;--muted:#9aa3ad;--line:#2f353c;--accent:#7aa7ff;--err:#ff8a80}}
body{font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);max-width:48rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
label{display:block;margin:.75rem 0 .25rem}input,select,button{font:inherit;padding:.4rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
button{cursor:pointer;border-color:var(--accent);color:var(--accent)}button.primary{background:var(--accent);color:var(--bg)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid var(--line);padding:.4rem;text-align:left;vertical-align:top}
.muted{color:var(--muted)}.error{color:var(--err)}code{font-size:.9em}form.inline{display:inline}
`;

export interface PageOptions {
  title: string;
  body: Raw;
  /** Nonce of the page's inline script, when it has one. */
  nonce?: string;
  /** Extra head content (e.g. a noscript refresh). */
  head?: Raw;
}

/** A whole page with the shared style; `csp` goes into the Content-Security-Policy header. */
export function page(o: PageOptions): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${esc(o.title)} · AppProxy</title><style>${STYLE}</style>${o.head?.html ?? ''}</head>
<body>${o.body.html}</body></html>`;
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** The hidden anti-forgery field every state-changing form carries. */
export function csrfField(token: string): Raw {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

/** A one-button form that POSTs to `action` with the anti-forgery token and hidden fields. */
export function postButton(
  action: string,
  label: string,
  csrf: string,
  fields: Record<string, string> = {},
  primary = false,
): Raw {
  const hidden = Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`<form class="inline" method="post" action="${action}">${csrfField(csrf)}${hidden}<button${new Raw(primary ? ' class="primary"' : '')}>${label}</button></form>`;
}
