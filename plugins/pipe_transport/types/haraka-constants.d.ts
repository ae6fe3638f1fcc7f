// haraka-constants ships no types; these are the return codes the plugin answers with.
declare module 'haraka-constants' {
  export const OK: number
  export const DENY: number
  export const DENYSOFT: number
}
