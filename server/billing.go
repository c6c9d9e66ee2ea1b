package server

import (
	"github.com/amigo-ami/amigo/billing"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
)

// billingRunner is the bill runner the API starts runs and rebills on: it
// has the MDM estimate a day's missing intervals before the day is billed
// (a bill with intervals still missing is held), and takes holidays from
// the safeguards' calendar, which is the utility's.
func (s *Server) billingRunner() (*billing.Runner, error) {
	days, err := s.cfg.Safeguards.HolidayDates()
	if err != nil {
		return nil, err
	}
	return &billing.Runner{
		Store:     s.Store,
		Policy:    billing.Policy{Missing: billing.MissingEstimate},
		Estimator: &mdm.Estimates{Store: s.Store, Rules: s.rules, Estimation: vee.DefaultEstimation()},
		Holidays:  days,
	}, nil
}
