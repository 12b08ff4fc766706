// The Meshes export, loaded as it is. What Meshes does not export — connection credentials, the
// environment, and Meshwork's own publishable keys — comes alongside. Without credentials in the
// environment the connections run in sandbox mode, against simulators.
import { readFileSync } from "node:fs";
import { defineConfig, env, fromMeshesExport, type MeshesExport } from "@meshwork/rules";

const WORKSPACE = "5d1e0c3a-8f2b-4c41-9a0e-2b7d9c1e4f60";
const HUBSPOT = "0b6c9e11-3a5d-4e7f-8c21-6d4a9b2f7e10";
const SLACK = "7e2f4a90-1c6b-4d38-b5e7-9a0c3d8f2b41";

const exported = JSON.parse(readFileSync(new URL("../meshes-export.json", import.meta.url), "utf8")) as MeshesExport;
const live = process.env.MESHWORK_MODE === "live";

export default defineConfig(
  fromMeshesExport(exported, {
    mode: live ? "live" : "sandbox",
    credentials: {
      [HUBSPOT]: { accessToken: live ? env("ACME_HUBSPOT_TOKEN") : "pat-sandbox" },
      [SLACK]: { botToken: live ? env("ACME_SLACK_BOT_TOKEN") : "xoxb-sandbox" },
    },
    // The exported mesh_pub_ key keeps working; a Meshwork key can be added next to it.
    workspaces: { [WORKSPACE]: { environment: "production", publishableKeys: ["mw_pub_acme_migrated"] } },
  }),
);
