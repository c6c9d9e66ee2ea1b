package server

import (
	"fmt"
	"os"

	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/headend"
)

// addFirmwareStep registers the firmware campaign, trusting the key in
// headend.firmware_key_file; without a key there is no firmware kind, so
// that no image is ever sent unchecked.
func (s *Server) addFirmwareStep(steps map[string]campaign.Step) error {
	path := s.cfg.HeadEnd.FirmwareKeyFile
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("firmware key: %w", err)
	}
	key, err := firmware.ParsePublicKey(b)
	if err != nil {
		return fmt.Errorf("firmware key %s: %w", path, err)
	}
	fw := &headend.FirmwareUpdate{HeadEnd: s.HeadEnd, Images: s.Store, Trusted: key}
	steps[headend.FirmwareKind] = fw.Step
	return nil
}
