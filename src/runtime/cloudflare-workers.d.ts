/** The one thing the edge entry uses of workerd's built-in `cloudflare:workers` module. */
declare module "cloudflare:workers" {
  /** The Worker's bindings, readable at module scope. */
  export const env: Record<string, unknown>;
}
