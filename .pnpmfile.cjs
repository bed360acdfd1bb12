// pnpm hooks. beforePacking shapes the package.json that `pnpm pack` and `pnpm publish`
// (hence `changeset publish`) put in a tarball; the package.json files in the repo stay as they are.
module.exports = {
  hooks: {
    beforePacking(pkg) {
      // Development scripts point at files that are not shipped (bench/, examples/, scripts/).
      delete pkg.scripts;
      delete pkg.devDependencies;
      // The "@tsraft/source" condition resolves workspace packages to their TypeScript sources
      // for tests in this repository; installed packages resolve to dist/ only.
      if (pkg.exports && typeof pkg.exports === 'object') {
        for (const target of Object.values(pkg.exports)) {
          if (target && typeof target === 'object') delete target['@tsraft/source'];
        }
      }
      return pkg;
    },
  },
};
