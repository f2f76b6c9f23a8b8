//! Python: datamodel-code-generator writes one module per schema version
//! (`lead_created_v1.py`, a `TypedDict` named `LeadCreatedV1`), and
//! `__init__.py` re-exports them with typed emit helpers for
//! `switchyard_client`: `emit_lead_created(client, payload)` and
//! `emit_lead_created_async(async_client, payload)`.
//!
//! The generator is `SWITCHYARD_DATAMODEL_CODEGEN` when set, else
//! `datamodel-codegen` on the PATH (`pip install datamodel-code-generator`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;

use super::{EventSchema, Files, Generator, HEADER};

pub fn render(schemas: &[EventSchema]) -> anyhow::Result<Files> {
    let generator = Generator::from_env("SWITCHYARD_DATAMODEL_CODEGEN", &["datamodel-codegen"]);
    let mut files = Files::new();
    let mut init = format!(
        "# {HEADER}\nfrom typing import Any\n\nfrom switchyard_client import AsyncSwitchyard, Emitted, Switchyard\n\n"
    );
    let mut exported = Vec::new();
    for schema in schemas {
        let module = format!("{}_v{}", schema.snake(), schema.version);
        let input = serde_json::to_string(&schema.titled())?;
        let type_name = schema.type_name();
        let types = generator
            .run(
                &[
                    "--input-file-type",
                    "jsonschema",
                    "--output-model-type",
                    "typing.TypedDict",
                    "--class-name",
                    &type_name,
                    "--custom-file-header",
                    &format!("# {HEADER}"),
                    "--disable-timestamp",
                    "--formatters",
                    "builtin",
                ],
                &input,
            )
            .with_context(|| format!("{} v{}", schema.event_type, schema.version))?;
        files.push((PathBuf::from(format!("{module}.py")), types));
        writeln!(init, "from .{module} import {type_name}")?;
        exported.push(type_name);
        let mut names = vec![format!("emit_{module}")];
        if schema.latest {
            names.push(format!("emit_{}", schema.snake()));
        }
        for name in names {
            init.push_str(&helpers(schema, &name));
            exported.push(name.clone());
            exported.push(format!("{name}_async"));
        }
    }
    let all: Vec<String> = exported
        .iter()
        .map(|name| format!("    {name:?},"))
        .collect();
    writeln!(init, "\n__all__ = [\n{}\n]", all.join("\n"))?;
    files.push((PathBuf::from("__init__.py"), init));
    Ok(files)
}

fn helpers(schema: &EventSchema, name: &str) -> String {
    format!(
        "\n\ndef {name}(client: Switchyard, payload: {type_name}, **options: Any) -> Emitted:\n    \
         \"\"\"Emits `{event_type}` validated against version {version}.\"\"\"\n    \
         return client.emit(\"{event_type}\", payload, schema_version={version}, **options)\n\n\n\
         async def {name}_async(client: AsyncSwitchyard, payload: {type_name}, **options: Any) -> Emitted:\n    \
         \"\"\"Emits `{event_type}` validated against version {version}.\"\"\"\n    \
         return await client.emit(\"{event_type}\", payload, schema_version={version}, **options)\n",
        event_type = schema.event_type,
        version = schema.version,
        type_name = schema.type_name(),
    )
}
