/** A link on the server's index page. */
export interface IndexLink {
  readonly path: string;
  readonly title: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The small HTML page at `/` that links to everything the server offers. */
export function renderIndexPage(links: readonly IndexLink[]): string {
  const items = links
    .map(
      (link) =>
        `<li><a href="${escapeHtml(link.path)}">${escapeHtml(link.title)}</a> <code>${escapeHtml(link.path)}</code></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>telemeter</title></head>
<body>
<h1>telemeter</h1>
<ul>
${items}
</ul>
</body>
</html>
`;
}
