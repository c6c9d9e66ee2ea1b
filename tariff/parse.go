package tariff

import "errors"

// ParseTariff reads a tariff document, YAML or JSON (JSON is YAML), and
// validates it. Unknown fields are refused so a misspelt key is not a
// silently missing charge.
func ParseTariff(b []byte) (Tariff, error) {
	return Tariff{}, errors.New("tariff: ParseTariff not yet implemented")
}
