-- 0025_flow_decision_gates: approval gates a phase step opens at run time (flow engine).
--
-- - flow_approvals.gate: 'after_step' for the static gate of a phase registered with an
--   approval (approving completes the phase, as before), 'decision' for a gate the phase's step
--   asked for while running (StepContext::await_decision): approving runs the same phase's step
--   again. Existing rows are static gates.
-- - flow_approvals.reason: why the step asked for a decision (shown as the flow's
--   waiting_reason while the gate is open).
ALTER TABLE migration.flow_approvals
    ADD COLUMN gate VARCHAR(20) NOT NULL DEFAULT 'after_step',
    ADD COLUMN reason TEXT,
    ADD CONSTRAINT ck_flow_approvals_gate CHECK (gate IN ('after_step', 'decision'));
