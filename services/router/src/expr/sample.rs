//! The realistic lead payload expression tests evaluate against; also read
//! by the `cel_rule` fuzz target (`fuzz/`), so both exercise the same event.

use serde_json::{Value, json};

pub fn lead_payload() -> Value {
    json!({
        "id": "lead_1",
        "email": "Ada@Example.com",
        "firstName": "Ada",
        "source": "ads",
        "amount": 150,
        "price": 12.5,
        "tags": ["vip", "beta"],
        "company": {"name": "Engines", "address": {"city": "London"}},
        "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 0}],
        "nothing": null
    })
}
