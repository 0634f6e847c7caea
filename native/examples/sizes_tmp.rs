use _core::model::*;
use std::mem::size_of;
fn main() {
    println!("contract {} closed {} private {} stars {} money {} removal {} mark {} entry {} cache {} view {} assess {} word {} optword {} id {} optid {}",
        size_of::<Contract>(), size_of::<Closed>(), size_of::<Private>(), size_of::<Stars>(), size_of::<Money>(), size_of::<Removal>(), size_of::<Mark>(), size_of::<Entry>(),
        size_of::<_core::eval::CacheEntry>(), size_of::<_core::rules::View>(), size_of::<_core::rules::Assessment>(), size_of::<Word>(), size_of::<Option<Word>>(), size_of::<Id>(), size_of::<Option<Id>>());
}
