/**
 * The page's address lives in the hash (`#/run/<span id>?…`), so every view can be bookmarked and
 * reloaded while the server only ever serves `/`.
 */

/** A view's path segments and its query parameters. */
export interface Route {
  path: string[];
  params: Record<string, string>;
}

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  return {
    path: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: Object.fromEntries(new URLSearchParams(query)),
  };
}

export function href(route: Route): string {
  const query = new URLSearchParams(Object.entries(route.params).filter(([, value]) => value !== '')).toString();
  return `#/${route.path.map(encodeURIComponent).join('/')}${query ? `?${query}` : ''}`;
}

export function navigate(route: Route): void {
  location.hash = href(route);
}
