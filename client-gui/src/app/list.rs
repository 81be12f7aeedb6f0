//! The host list and its selection: the profiles read from the store, the search box and tag filter,
//! pinned favourites, collapsed group headers, which profile is selected, and the rows the list shows
//! (computed once per change of their inputs, not every frame).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use client_core::{Profile, StoreVersion, UnreadableFile};

use super::AppState;
use super::editing::Leave;

/// One profile file of the store, as the host list shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub profile: Result<Profile, UnreadableFile>,
    pub version: Option<StoreVersion>,
}

/// A group of the host list: pinned favourites, a tag (a profile's first), or no tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Pinned,
    Tag(String),
    Untagged,
}

impl Group {
    /// The key kept in [`HostList::collapsed_groups`] (tags cannot contain `:`).
    pub fn key(&self) -> String {
        match self {
            Group::Pinned => "pinned:".to_owned(),
            Group::Tag(tag) => format!("tag:{tag}"),
            Group::Untagged => "untagged:".to_owned(),
        }
    }

    pub fn title(&self) -> String {
        match self {
            Group::Pinned => "pinned".to_owned(),
            Group::Tag(tag) => format!("#{tag}"),
            Group::Untagged => "no tag".to_owned(),
        }
    }
}

/// One line of the host list: a group header or a profile. Both are one row of the same height.
#[derive(Debug, Clone, PartialEq)]
pub enum ListRow {
    Header { group: Group, count: usize, collapsed: bool },
    Profile(String),
}

/// The list's state: what is in the store, how it is filtered and grouped, and the selection.
#[derive(Debug, Default)]
pub struct HostList {
    pub entries: Vec<Entry>,
    pub selected: Option<String>,
    pub search: String,
    /// Only profiles with this tag are listed (a tag chip was clicked).
    pub tag_filter: Option<String>,
    /// Profiles pinned to the top of the list (kept across restarts).
    pub favourites: BTreeSet<String>,
    /// The group headers the user collapsed ([`Group::key`], kept across restarts).
    pub collapsed_groups: BTreeSet<String>,
    /// The keyboard moved the selection: the host list scrolls it into view when it draws next.
    pub scroll_to_selection: bool,
    /// Bumped whenever `entries` change: the list's rows and tags are cached against it.
    generation: u64,
    /// `entries` by name, rebuilt with them (the list looks rows up by name every frame).
    index: HashMap<String, usize>,
    /// The list rows and the tags, computed once per change of their inputs, not every frame.
    list_cache: std::cell::RefCell<Option<(u64, std::rc::Rc<Vec<ListRow>>)>>,
    tags_cache: std::cell::RefCell<Option<(u64, std::rc::Rc<Vec<String>>)>>,
}

impl HostList {
    pub(super) fn new(
        selected: Option<String>,
        favourites: BTreeSet<String>,
        collapsed_groups: BTreeSet<String>,
    ) -> HostList {
        HostList { selected, favourites, collapsed_groups, ..HostList::default() }
    }

    /// Replaces the entries (a re-read store); a selection whose profile is gone is cleared.
    pub(super) fn set_entries(&mut self, entries: Vec<Entry>) {
        self.entries = entries;
        self.generation += 1;
        self.index = self.entries.iter().enumerate().map(|(i, e)| (e.name.clone(), i)).collect();
        if self.selected.as_ref().is_some_and(|s| self.entry(s).is_none()) {
            self.selected = None;
        }
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).and_then(|&i| self.entries.get(i)).filter(|e| e.name == name)
    }

    /// The readable profile of `name`.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.entry(name).and_then(|e| e.profile.as_ref().ok())
    }

    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The entries matching the search box (name, host, tags, notes; case-insensitive) and the tag
    /// filter, in list order, that are not hidden under a collapsed group header. One row per profile.
    pub fn visible(&self) -> Vec<&Entry> {
        self.rows()
            .iter()
            .filter_map(|row| match row {
                ListRow::Profile(name) => self.entry(name),
                ListRow::Header { .. } => None,
            })
            .collect()
    }

    /// The host list's rows. With tags in the store, profiles are grouped under headers: pinned
    /// favourites first, then each tag (a profile is listed once, under its first tag), then those
    /// without one; a collapsed header hides its rows, except while searching. Without tags, a flat
    /// list with favourites on top. Within a group, by name.
    pub fn rows(&self) -> std::rc::Rc<Vec<ListRow>> {
        // The inputs: the entries (by generation), the search, the tag filter, favourites, collapsed.
        let key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (self.generation, &self.search, &self.tag_filter, &self.favourites, &self.collapsed_groups)
                .hash(&mut hasher);
            hasher.finish()
        };
        if let Some((cached, rows)) = self.list_cache.borrow().as_ref()
            && *cached == key
        {
            return std::rc::Rc::clone(rows);
        }
        let rows = std::rc::Rc::new(self.compute_rows());
        *self.list_cache.borrow_mut() = Some((key, std::rc::Rc::clone(&rows)));
        rows
    }

    /// Whether the search box and the tag filter list this entry (a collapsed group does not matter).
    fn matches_filter(&self, entry: &Entry, needle: &str) -> bool {
        let found = needle.is_empty()
            || entry.name.to_lowercase().contains(needle)
            || entry.profile.as_ref().is_ok_and(|p| {
                p.host.to_lowercase().contains(needle)
                    || p.tags.iter().any(|t| t.to_lowercase().contains(needle))
                    || p.notes.to_lowercase().contains(needle)
            });
        found
            && self.tag_filter.as_ref().is_none_or(|tag| {
                entry.profile.as_ref().is_ok_and(|p| p.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
            })
    }

    fn compute_rows(&self) -> Vec<ListRow> {
        let needle = self.search.trim().to_lowercase();
        let matching = self.entries.iter().filter(|e| self.matches_filter(e, &needle));
        let grouped = self.grouped();
        // Entries come sorted by name from the store; the sort is stable.
        let mut keyed: Vec<(Group, &str)> = matching.map(|e| (self.group_of(e, grouped), e.name.as_str())).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        if !grouped {
            return keyed.into_iter().map(|(_, name)| ListRow::Profile(name.to_owned())).collect();
        }
        let mut rows = Vec::with_capacity(keyed.len() + 8);
        let mut i = 0;
        while i < keyed.len() {
            let group = keyed[i].0.clone();
            let count = keyed[i..].iter().take_while(|(g, _)| *g == group).count();
            let collapsed = needle.is_empty() && self.collapsed_groups.contains(&group.key());
            rows.push(ListRow::Header { group, count, collapsed });
            if !collapsed {
                rows.extend(keyed[i..i + count].iter().map(|(_, name)| ListRow::Profile((*name).to_owned())));
            }
            i += count;
        }
        rows
    }

    /// Whether the list is grouped: some profile has a tag.
    fn grouped(&self) -> bool {
        self.entries.iter().any(|e| e.profile.as_ref().is_ok_and(|p| !p.tags.is_empty()))
    }

    fn group_of(&self, entry: &Entry, grouped: bool) -> Group {
        if self.favourites.contains(&entry.name) {
            return Group::Pinned;
        }
        match entry.profile.as_ref().ok().and_then(|p| p.tags.first()) {
            Some(tag) if grouped => Group::Tag(tag.to_lowercase()),
            _ => Group::Untagged,
        }
    }

    /// Collapses or expands a group header (kept across restarts). A selection hidden by collapsing
    /// is no longer acted on by the keyboard ([`HostList::highlighted`]).
    pub fn toggle_group(&mut self, group: &Group) {
        let key = group.key();
        if !self.collapsed_groups.remove(&key) {
            self.collapsed_groups.insert(key);
        }
    }

    /// Every tag in the store (lower-cased, sorted), for the filter chips.
    pub fn tags(&self) -> std::rc::Rc<Vec<String>> {
        if let Some((generation, tags)) = self.tags_cache.borrow().as_ref()
            && *generation == self.generation
        {
            return std::rc::Rc::clone(tags);
        }
        let tags: BTreeSet<String> = self
            .entries
            .iter()
            .filter_map(|e| e.profile.as_ref().ok())
            .flat_map(|p| p.tags.iter().map(|t| t.to_lowercase()))
            .collect();
        let tags = std::rc::Rc::new(tags.into_iter().collect::<Vec<_>>());
        *self.tags_cache.borrow_mut() = Some((self.generation, std::rc::Rc::clone(&tags)));
        tags
    }

    /// The row that keyboard actions (Enter, Delete) act on: the selected profile, while the search and
    /// tag filter list it. A profile hidden by the search is never acted on; one in a collapsed group is
    /// shown first ([`HostList::reveal_selection`]).
    pub fn highlighted(&self) -> Option<String> {
        let selected = self.selected.as_deref()?;
        let needle = self.search.trim().to_lowercase();
        self.entry(selected).filter(|e| self.matches_filter(e, &needle)).map(|e| e.name.clone())
    }

    /// Brings the selection into view: its group expanded, the list scrolled to it (the host list does
    /// that when it draws next, see [`HostList::scroll_to_selection`]).
    pub fn reveal_selection(&mut self) {
        let Some(entry) = self.selected.as_deref().and_then(|s| self.entry(s)) else { return };
        let key = self.group_of(entry, self.grouped()).key();
        self.collapsed_groups.remove(&key);
        self.scroll_to_selection = true;
    }

    /// The listed profile `delta` rows up (negative) or down from the selection (the first or last
    /// when nothing listed is selected); None when nothing is listed.
    fn moved_selection(&self, delta: isize) -> Option<String> {
        let names: Vec<String> = self.visible().iter().map(|e| e.name.clone()).collect();
        if names.is_empty() {
            return None;
        }
        let current = self.selected.as_ref().and_then(|s| names.iter().position(|n| n == s));
        let next = match current {
            None if delta < 0 => names.len() - 1,
            None => 0,
            Some(i) => i.saturating_add_signed(delta).min(names.len() - 1),
        };
        names.into_iter().nth(next)
    }

    pub fn toggle_favourite(&mut self, name: &str) {
        if !self.favourites.remove(name) {
            self.favourites.insert(name.to_owned());
        }
    }
}

/// Selecting: the selection meets the editor (asked first when edits would be lost) and the address.
impl AppState {
    /// Selects a profile (asking first if that would lose unsaved edits) and looks up its address.
    pub fn select(&mut self, name: &str) {
        if self.list.selected.as_deref() == Some(name) && !self.editing.is_open() {
            self.ensure_resolution(name);
            return;
        }
        if self.editing.is_open() {
            self.leave_editor(Leave::Select(name.to_owned()));
            return;
        }
        self.list.selected = Some(name.to_owned());
        self.ensure_resolution(name);
    }

    /// Moves the selection `delta` rows up (negative) or down in the listed rows, and shows it.
    pub fn move_selection(&mut self, delta: isize) {
        if let Some(name) = self.list.moved_selection(delta) {
            self.select(&name);
            self.list.reveal_selection();
        }
    }

    /// After the search or tag filter changed: the selection follows it to the first listed row when
    /// the selected one is hidden (and is cleared when nothing is listed). Not while editing.
    pub fn filter_changed(&mut self) {
        if self.editing.is_open() || self.list.highlighted().is_some() {
            return;
        }
        match self.list.visible().first().map(|e| e.name.clone()) {
            Some(first) => self.select(&first),
            None => self.list.selected = None,
        }
    }
}
