#!/usr/bin/env bash
# Refreshes the front-end libraries the binary embeds (web/static/vendor)
# from the versions pinned in web/package.json and web/package-lock.json.
# Run it after changing a pin; commit web/static/vendor with the lock file.
# Building and running amigo never needs Node: the copies are committed.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund --ignore-scripts
dest=static/vendor/uplot
rm -rf "$dest"
mkdir -p "$dest"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css node_modules/uplot/LICENSE "$dest/"
version=$(node -p 'require("./node_modules/uplot/package.json").version')
echo "uPlot $version, MIT licence (see LICENSE), from the npm registry" > "$dest/VERSION"
rm -rf node_modules
echo "refreshed $dest (uPlot $version)"
