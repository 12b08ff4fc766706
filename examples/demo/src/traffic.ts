// What the demo's "product" emits: users signing up, completing onboarding pages, failing a
// payment and running out of trial, per workspace.
import type { Tenant } from "./config.js";

interface User {
  user_id: string;
  email: string;
  first_name: string;
  plan: "free" | "pro" | "team";
}

export interface DemoEvent {
  event: "user.signup" | "page.completed" | "payment.failed" | "trial.expired";
  resource?: string;
  resource_id?: string;
  payload: Record<string, unknown>;
}

const USERS: Record<Tenant, User[]> = {
  acme: [
    { user_id: "usr_5012", email: "alex@northstar.io", first_name: "Alex", plan: "pro" },
    { user_id: "usr_4410", email: "sam@northstar.io", first_name: "Sam", plan: "team" },
    { user_id: "usr_6230", email: "priya@northstar.io", first_name: "Priya", plan: "pro" },
  ],
  globex: [
    { user_id: "usr_9001", email: "hank@globex.example", first_name: "Hank", plan: "pro" },
    { user_id: "usr_9002", email: "marge@globex.example", first_name: "Marge", plan: "free" },
  ],
};

const PAGES = [
  { page_id: "pg_create_workspace", page_title: "Create your workspace" },
  { page_id: "pg_invite_team", page_title: "Invite your team" },
  { page_id: "pg_connect_data", page_title: "Connect your data" },
];

const START = Date.parse("2026-11-26T09:00:00Z");

export function signup(user: User): DemoEvent {
  return { event: "user.signup", payload: { user_id: user.user_id, email: user.email, first_name: user.first_name, plan: user.plan } };
}

/** The `page.completed` payload of the brief: who, which page, which step, when, how long. */
export function pageCompleted(user: User, step: number, timeOnPageSeconds: number): DemoEvent {
  const page = PAGES[step - 1]!;
  return {
    event: "page.completed",
    resource: "onboarding_sequence",
    resource_id: "workspace-setup",
    payload: {
      user_id: user.user_id,
      email: user.email,
      page_id: page.page_id,
      page_title: page.page_title,
      sequence_step: step,
      completed_at: new Date(START + step * 7 * 60_000 + timeOnPageSeconds * 1000).toISOString(),
      time_on_page_seconds: timeOnPageSeconds,
    },
  };
}

export function paymentFailed(user: User, amount: number): DemoEvent {
  return { event: "payment.failed", payload: { user_id: user.user_id, email: user.email, amount, currency: "USD", reason: "card_declined" } };
}

export function trialExpired(user: User): DemoEvent {
  return { event: "trial.expired", payload: { user_id: user.user_id, email: user.email, plan: user.plan, trial_days: 14 } };
}

/** The three acts of the demo, in order: users sign up, work through onboarding, then billing happens. */
export type Act = "signups" | "onboarding" | "billing";
export const ACTS: Act[] = ["signups", "onboarding", "billing"];

/** Production traffic: every user signs up and completes pages; one payment fails, one trial ends. */
export function productionTraffic(tenant: Tenant): Record<Act, DemoEvent[]> {
  const [first, second, third] = USERS[tenant];
  const signups = USERS[tenant].map(signup);
  if (tenant === "acme") {
    return {
      signups,
      onboarding: [pageCompleted(first!, 1, 95), pageCompleted(first!, 2, 142), pageCompleted(second!, 1, 61), pageCompleted(third!, 1, 208)],
      billing: [paymentFailed(second!, 49), trialExpired(third!)],
    };
  }
  return {
    signups,
    onboarding: [pageCompleted(first!, 1, 77), pageCompleted(second!, 1, 133)],
    billing: [paymentFailed(first!, 99), trialExpired(second!)],
  };
}

/** Staging traffic: a QA user runs through signup and the first page. */
export function stagingTraffic(tenant: Tenant): Record<Act, DemoEvent[]> {
  const qa: User = { user_id: "usr_qa_1", email: `qa+${tenant}@example.com`, first_name: "QA", plan: "pro" };
  return { signups: [signup(qa)], onboarding: [pageCompleted(qa, 1, 12)], billing: [] };
}
