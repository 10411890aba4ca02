package agent

import "github.com/hagen-ha/hagen/contract"

// loadConfig reads and checks agent.json strictly (contract.AgentConfig):
// unknown fields are errors, so a config from a different hagen version
// fails loudly.
func loadConfig(path string) (*contract.AgentConfig, error) {
	return contract.ReadAgentConfig(path)
}
