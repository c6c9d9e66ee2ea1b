package tariff

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// maxDocument bounds a tariff document; a real one is a few kilobytes.
const maxDocument = 1 << 20

// ParseTariff reads a tariff document, YAML or JSON (JSON is YAML), and
// validates it. Unknown fields are refused so that a misspelt key is not
// a silently missing charge.
func ParseTariff(b []byte) (t Tariff, err error) {
	if len(b) > maxDocument {
		return Tariff{}, fmt.Errorf("tariff document: %d bytes, more than %d", len(b), maxDocument)
	}
	defer func() {
		// The YAML decoder is outside code; a document that trips it is
		// bad input, not a crash.
		if r := recover(); r != nil {
			t, err = Tariff{}, fmt.Errorf("tariff document: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return Tariff{}, errors.New("tariff document: empty")
		}
		return Tariff{}, fmt.Errorf("tariff document: %w", err)
	}
	if err := t.Validate(); err != nil {
		return Tariff{}, err
	}
	return t, nil
}
