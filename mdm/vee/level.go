package vee

import "strings"

// Level reports whether a channel holds levels rather than energies: the
// voltage statistics of a power quality profile ("V1avg10me-1") and the
// instantaneous voltages and currents a profile may capture ("L1Ve-1").
// Their values are not summed over a day, so the energy rules (spikes,
// like-day totals, the register sum, zero runs, demand) mean nothing for
// them and estimation, which shapes energy, must not fill them.
func Level(channel string) bool {
	if len(channel) >= 5 && channel[0] == 'V' && channel[1] >= '1' && channel[1] <= '3' {
		switch channel[2:5] {
		case "avg", "min", "max":
			return true
		}
	}
	if len(channel) >= 3 && channel[0] == 'L' && channel[1] >= '1' && channel[1] <= '3' {
		return strings.HasPrefix(channel[2:], "V") || strings.HasPrefix(channel[2:], "I")
	}
	return false
}

// levelRules are the rules that judge a level channel: whether its values
// arrived and could be trusted, not what they add up to.
var levelRules = map[string]bool{RuleMissing: true, RuleDuplicate: true, RuleClock: true, RuleDataNotValid: true, RuleOutage: true}

// appliesTo reports whether a rule judges the channel.
func appliesTo(rule Rule, channel string) bool {
	return !Level(channel) || levelRules[rule.Name()]
}
