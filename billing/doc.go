// Package billing owns turning validated interval data into money: the
// billing determinants of a period (energy per time-of-use bucket and
// tier, demand per window, export netted against import), each tagged
// with how many of its intervals were estimated, edited or missing; the
// bill computed from them under the tariffs in force, one line per charge
// in integer minor units with its rounding stated; rebills when a day's
// data changes; and bill runs over account cycles that resume where they
// stopped and never bill an account twice.
package billing
