package dlmsdriver_test

import (
	"testing"

	"github.com/amigo-ami/amigo/headend/dlmsdriver"
)

// FuzzParseModel: a stored template, however damaged, is read or refused
// with an error, and the channel map of one read never panics.
func FuzzParseModel(f *testing.F) {
	f.Add([]byte(`{"key":"AMG/E1//x","objects":[{"class":3,"ln":"1.0.1.8.0.255"}],"profiles":[{"ln":"1.0.99.1.0.255","kind":"load","period":900,` +
		`"columns":[{"ClassID":8,"LogicalName":"0.0.1.0.0.255","Attribute":2},{"ClassID":3,"LogicalName":"1.0.1.8.0.255","Attribute":2}]}],` +
		`"scalers":{"1.0.1.8.0.255":{"scaler":-2,"unit":30}},"quirks":{"lists":"broken","crashed":["get-with-list"]}}`))
	f.Add([]byte(`{"profiles":[{"ln":"0.0.98.1.0.255","kind":"billing","columns":[]}]}`))
	f.Add([]byte(`{"profiles":[{"ln":"1.0.99.1.0.255","kind":"weird"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dlmsdriver.ParseModel(b)
		if err != nil {
			return
		}
		for _, c := range m.Channels() {
			if c.ReadingType == "" {
				t.Fatalf("a channel without a reading type: %+v", c)
			}
		}
	})
}
