package api

import (
	"fmt"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/manifest"
)

// Bounds on the strings the API accepts. Whatever is stored is also shown
// in listings and carried in bus messages, so a field is a label or a
// sentence, never a document.
const (
	// maxIDBytes bounds identifiers: meter and usage point mRIDs, channel
	// names, correlation ids, token labels; as in a manifest.
	maxIDBytes = manifest.MaxFieldBytes
	// maxTextBytes bounds sentences a person writes: reasons, resolutions.
	maxTextBytes = 1000
	// maxParams bounds a command's parameters; each name is an identifier
	// and each value at most maxIDBytes.
	maxParams = 16
	// maxParamBytes bounds one parameter's value: an activity calendar
	// is a small JSON document.
	maxParamBytes = 16 << 10
	// maxUsagePoints bounds the usage points of one consumer.
	maxUsagePoints = 100
	// maxDayIntervals bounds the intervals of one edit: a day of
	// one-minute intervals, 25 hours long.
	maxDayIntervals = 25 * 60
)

// field is one string of a request, and how it is bounded.
type field struct {
	name, value string
	max         int
	// text allows line breaks and tabs, which a sentence may hold and an
	// identifier may not.
	text bool
}

func idField(name, v string) field { return field{name: name, value: v, max: maxIDBytes} }
func textField(name, v string) field {
	return field{name: name, value: v, max: maxTextBytes, text: true}
}
func nameField(name, v string) field { return field{name: name, value: v, max: auth.MaxNameLength} }

// check says what is wrong with the field, or nil.
func (f field) check() error {
	if len(f.value) > f.max {
		return fmt.Errorf("%s: %d bytes, at most %d", f.name, len(f.value), f.max)
	}
	if !utf8.ValidString(f.value) {
		return fmt.Errorf("%s: not UTF-8", f.name)
	}
	for i, c := range f.value {
		if unicode.IsControl(c) && !(f.text && (c == '\n' || c == '\t' || c == '\r')) {
			return fmt.Errorf("%s: control character %U at byte %d", f.name, c, i)
		}
	}
	return nil
}

// checkFields answers 400 naming the first field out of bounds, and
// reports whether all were within them.
func checkFields(w http.ResponseWriter, fs ...field) bool {
	for _, f := range fs {
		if err := f.check(); err != nil {
			Error(w, http.StatusBadRequest, "bad_field", err.Error())
			return false
		}
	}
	return true
}

// checkCount answers 400 when a list or map of the request has more than
// max entries.
func checkCount(w http.ResponseWriter, name string, n, max int) bool {
	if n > max {
		Error(w, http.StatusBadRequest, "bad_field", fmt.Sprintf("%s: %d entries, at most %d", name, n, max))
		return false
	}
	return true
}
