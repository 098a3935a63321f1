//! The `"profile"` request member end to end: the verdict says which profile judged it, and
//! the cache never answers one profile's question with another profile's verdict.

use crate::common;
use crate::common::Lab;
use crate::common::api::post_fetch;
use http::StatusCode;
use portcullis::testing::origin::Route;

const TOKEN: &str = "test-token-for-as-1";

#[tokio::test]
async fn profile_is_judged_per_request_and_stated_in_the_verdict() {
    let lab = Lab::start().await;
    let url = lab.url("good.test", "/client.json");
    // A real-shaped CIMD without client_name: valid by the RFCs, refused by MCP.
    let doc = serde_json::json!({
        "client_id": url,
        "redirect_uris": ["https://good.test/cb"],
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    lab.origin.route("/client.json", Route::json(doc.clone()));
    let svc = lab
        .serve(|c| c.server.callers = common::caller_with_token(TOKEN))
        .await;
    let ask = |profile: Option<&str>| {
        let mut body = serde_json::json!({"url": url, "kind": "client_metadata"});
        if let Some(p) = profile {
            body["profile"] = p.into();
        }
        body.to_string()
    };
    let cases = [
        (Some("mcp"), "invalid", "mcp"),
        (None, "valid", "oauth"),
        (Some("oauth"), "valid", "oauth"),
        (Some("mcp"), "invalid", "mcp"),
        (Some("atproto"), "invalid", "atproto"),
    ];
    for (profile, outcome, stated) in cases {
        let reply = post_fetch(svc.addr, Some(TOKEN), &ask(profile)).await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
        let v = reply.json();
        assert_eq!(v["claims"]["outcome"], outcome, "{profile:?}: {v}");
        assert_eq!(v["claims"]["profile"], stated, "{profile:?}: {v}");
        let tagged = v["claims"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "missing_member" && p["profile"] == "mcp");
        assert_eq!(tagged, stated != "atproto", "{profile:?}: {v}");
    }
    let reply = post_fetch(
        svc.addr,
        Some(TOKEN),
        &serde_json::json!({"url": url, "kind": "client_metadata", "profile": "openid"})
            .to_string(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
