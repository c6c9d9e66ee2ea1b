//go:build race

package headend_test

// mixedFleetSize keeps the mixed fleet small under the race detector,
// beside the DLMS fleet the package's race run already collects;
// scripts/test.sh runs it at full size without the detector.
const mixedFleetSize = 400
