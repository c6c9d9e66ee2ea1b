// Package mdm owns meter data management, starting with ingest: it takes
// what the head-end publishes on the bus — interval blocks, register reads
// and end-device events — and stores it, interval data as versioned
// local-day rows merged with what is already stored.
//
// It also owns what is asked of and done to the stored data, as services
// the API calls: Queries (series, versions, totals, last reads),
// Exceptions (the validation queue), Edits (a change stored over the
// version it was made on, the compare-and-swap written once), Estimates
// (validation and estimation on request) and Portal (a household's use,
// baseline and cost, and its export). Each takes the small part of the
// store it needs.
//
// # Delivery
//
// Ingest reads the readings and events streams through durable pull
// consumers, in batches. A message is acknowledged only after the store
// committed everything it carried, and every write is idempotent, so a
// crash anywhere loses nothing acknowledged and a redelivered message
// stores nothing twice: merged again over the stored day it changes no
// interval, and an unchanged day is not written.
//
// A message that cannot be used — it does not decode, names a meter the
// registry does not know, has a reading before 1970 or far in the future —
// is never fixed up and never blocks the stream: it is copied to the
// dead-letter stream with the reason (see DeadLetters) and then
// acknowledged. CheckMessage tells a publisher beforehand whether a message
// would be refused so.
//
// # Merging a day
//
// Each reading lands in the local day of its usage point that holds the
// interval's start (a reading is stamped with the interval's end), at the
// slot counted from local midnight, so a day has 92, 96 or 100 quarter
// hours across DST changes. A reading that ends off the grid (a capture
// the meter made as its clock was set, at 07:07:30) is placed by its end
// into the interval holding it (07:00–07:15) and flagged
// QualityClockAdjusted. Readings of a block that land in one interval are
// one reading: pieces of an interval split off the grid add up when the
// quantity is an amount (Wh, varh, VAh, m³, J) and the later piece stands
// for a level (V, A, W); the same capture read twice with different values
// keeps the later, flagged QualitySuspect. Against the latest stored
// version of the day:
//
//   - intervals the message does not carry keep their stored value and
//     quality; intervals nobody has read are QualityMissing with value 0;
//   - a missing or estimated interval takes the reading;
//   - an actual interval read again with the same value is unchanged;
//   - an actual interval read again with a different value takes the new
//     value flagged QualitySuspect, and the day's new version says so in
//     its Reason: the meter (or the head-end) contradicted itself, and
//     validation decides which value stands. The earlier value stays in
//     the older version, so nothing is lost by preferring the newer;
//   - an edited interval keeps the person's value: an edit is a decision,
//     and a re-read does not overturn it (the Reason notes a re-read that
//     disagrees).
//
// Stages (validation and estimation) run on each merged day between merge
// and write.
//
// Days of one meter must not be merged by two writers at once without
// noticing: Ingest writes each day only over the version it merged over
// (store.PutDaysIfLatest), and when another writer came in between it
// merges its readings again over the latest version and tries again. Any
// number of ingests may share the streams; a writer that only looked at
// the version its own write got, as this package once did, lost readings
// when three writers raced over one day.
package mdm
