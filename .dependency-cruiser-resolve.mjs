// Imports are written './x.js' (module nodenext) and the sources compile in place, so after a build
// x.js exists beside x.ts. dependency-cruiser would then follow the compiled x.js (whose type-only
// imports are gone); tsc reads x.ts. dependency-cruiser's own options have no say in this, but it
// hands a webpack config's `resolve` to enhanced-resolve as it is: this file is that config.
export default {
  resolve: { extensionAlias: { '.js': ['.ts', '.d.ts', '.js'] } },
}
