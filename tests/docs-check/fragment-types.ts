// What a configuration fragment in a guide may be.
import type { AccessKeyConfig, Condition, ConnectionConfig, Mapping, RuleConfig, WorkspaceConfig } from "@meshwork/rules";

export type DocFragment = RuleConfig | ConnectionConfig | WorkspaceConfig | AccessKeyConfig | Mapping | Condition;
