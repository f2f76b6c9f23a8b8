//! TypeScript: json-schema-to-typescript writes one module per schema
//! version (`lead.created.v1.ts`, exporting `LeadCreatedV1`), and
//! `index.ts` re-exports them with typed emit helpers for
//! `@switchyard/client`'s `Switchyard`: `emitLeadCreated(client, payload)`.
//!
//! The generator is `SWITCHYARD_JSON2TS` when set, else
//! `npx --yes json-schema-to-typescript@16.0.0` (npx uses a local install
//! of that version when there is one).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

use super::{EventSchema, Files, Generator, HEADER};

pub fn render(schemas: &[EventSchema]) -> anyhow::Result<Files> {
    let generator = Generator::from_env(
        "SWITCHYARD_JSON2TS",
        &["npx", "--yes", "json-schema-to-typescript@16.0.0"],
    );
    let mut files = Files::new();
    let mut index = format!(
        "// {HEADER}\nimport type {{ EmitOptions, Emitted, Switchyard }} from \"@switchyard/client\";\n\n"
    );
    for schema in schemas {
        let module = format!("{}.v{}", schema.event_type, schema.version);
        let input = serde_json::to_string(&schema.titled())?;
        let banner = format!("// {HEADER}");
        let types = generator
            .run(&["--bannerComment", &banner, "--format", "false"], &input)
            .with_context(|| format!("{} v{}", schema.event_type, schema.version))?;
        files.push((PathBuf::from(format!("{module}.ts")), types));
        let type_name = schema.type_name();
        writeln!(
            index,
            "import type {{ {type_name} }} from \"./{module}.js\";"
        )?;
        writeln!(index, "export type {{ {type_name} }};")?;
        index.push_str(&helper(schema, &format!("emit{type_name}")));
        if schema.latest {
            index.push_str(&helper(schema, &format!("emit{}", schema.pascal())));
        }
    }
    files.push((PathBuf::from("index.ts"), index));
    Ok(files)
}

fn helper(schema: &EventSchema, name: &str) -> String {
    format!(
        "\n/** Emits `{event_type}` validated against version {version}. */\n\
         export function {name}(client: Switchyard, payload: {type_name}, options: EmitOptions = {{}}): Promise<Emitted> {{\n  \
         return client.emit(\"{event_type}\", payload, {{ ...options, schemaVersion: {version} }});\n}}\n",
        event_type = schema.event_type,
        version = schema.version,
        type_name = schema.type_name(),
    )
}
