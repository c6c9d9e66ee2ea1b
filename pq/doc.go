// Package pq owns power quality: voltage profiles (average, minimum and
// maximum per interval and phase), sag, swell and interruption events with
// their depth and duration, and the weekly EN 50160 compliance report per
// meter and feeder.
package pq
