//! Label and field selectors of a list or watch, applied to cached objects.

use crate::cache::CachedObject;
use crate::resources::Resource;
use crate::status::ApiError;
use berth_apimachinery::fields::FieldSelector;
use berth_apimachinery::labels::Selector;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    labels: Option<Selector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    /// Parses `labelSelector` and `fieldSelector`; a field the kind cannot select on is a
    /// 400, as in Kubernetes.
    pub fn parse(
        r: &Resource,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Filter, ApiError> {
        let labels = match label_selector.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(Selector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?),
            None => None,
        };
        let fields = match field_selector.filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                let f = FieldSelector::parse(s)
                    .map_err(|e| ApiError::BadRequest(format!("invalid field selector: {e}")))?;
                let allowed = crate::strategy::selectable_fields(r);
                for name in f.fields() {
                    if name != "metadata.name"
                        && name != "metadata.namespace"
                        && !allowed.contains(&name)
                    {
                        return Err(ApiError::BadRequest(format!(
                            "field label not supported: {name}"
                        )));
                    }
                }
                Some(f)
            }
            None => None,
        };
        Ok(Filter { labels, fields })
    }

    pub fn is_everything(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    pub fn matches(&self, o: &CachedObject) -> bool {
        if let Some(l) = &self.labels {
            if !l.matches(o.labels.as_ref()) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            if !f.matches(|name| o.field(name).map(str::to_string)) {
                return false;
            }
        }
        true
    }
}
