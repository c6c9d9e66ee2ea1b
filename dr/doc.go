// Package dr owns demand response: programs and the usage points enrolled
// in them, events (a load limit through the meter's limiter, a price
// signal to the home, a direct load-control relay) with their notice,
// each device's start and end randomised within the event's window, and
// the household's opt-out; then measurement and verification against
// customer baselines (10-of-10 with same-day adjustment, like days,
// weather-matched), the reduction per participant and per event, and
// its settlement.
package dr
