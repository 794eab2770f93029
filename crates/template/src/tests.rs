use super::*;

fn render(src: &str, data: &Value) -> String {
    Template::parse(src).unwrap().render(data).unwrap()
}

fn data() -> Value {
    Value::Struct(vec![
        ("AutomationObject".into(), Value::str("flux-system/apps")),
        (
            "Values".into(),
            Value::map(vec![(Value::str("env"), Value::str("prod"))]),
        ),
        (
            "Files".into(),
            Value::map(vec![
                (Value::str("b.yaml"), Value::Int(2)),
                (Value::str("a.yaml"), Value::Int(1)),
            ]),
        ),
        (
            "List".into(),
            Value::List(vec![Value::str("x"), Value::str("y"), Value::str("x")]),
        ),
    ])
}

#[test]
fn fields_ranges_trimming() {
    let d = data();
    assert_eq!(
        render("Auto {{ .AutomationObject }}", &d),
        "Auto flux-system/apps"
    );
    assert_eq!(
        render("{{ .Values.env }}/{{ .Values.nope }}", &d),
        "prod/<no value>"
    );
    let t = "Files:\n{{ range $f, $n := .Files -}}\n- {{ $f }}={{ $n }}\n{{ end -}}\ndone";
    assert_eq!(render(t, &d), "Files:\n- a.yaml=1\n- b.yaml=2\ndone");
    assert_eq!(render("{{range .List}}{{.}}{{end}}", &d), "xyx");
    assert_eq!(
        render(
            "{{ range $i, $v := .List }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ $v }}{{ end }}",
            &d
        ),
        "xx"
    );
    assert_eq!(
        render(
            "{{ range .Nope }}x{{ else }}none{{ end }}",
            &Value::map(vec![])
        ),
        "none"
    );
    assert_eq!(render("{{/* comment */}}a  {{- /* c */ -}}  b", &d), "ab");
}

#[test]
fn conditionals_variables_functions() {
    let d = data();
    assert_eq!(
        render(
            "{{ if eq .Values.env \"dev\" }}D{{ else if eq .Values.env \"prod\" }}P{{ else }}O{{ end }}",
            &d
        ),
        "P"
    );
    assert_eq!(
        render("{{ with .Values.env }}[{{ . }}]{{ end }}", &d),
        "[prod]"
    );
    assert_eq!(
        render("{{ $x := .Values.env }}{{ $x = upper $x }}{{ $x }}", &d),
        "PROD"
    );
    assert_eq!(render("{{ .List | uniq | join \", \" }}", &d), "x, y");
    assert_eq!(render("{{ len .List }} {{ index .List 1 }}", &d), "3 y");
    assert_eq!(
        render("{{ printf \"%s-%d%%\" .Values.env 5 }}", &d),
        "prod-5%"
    );
    assert_eq!(render("{{ (index .List 0) | upper | quote }}", &d), "\"X\"");
    assert_eq!(render("{{ \"\" | default \"dflt\" }}", &d), "dflt");
    assert_eq!(render("{{ \"a\\nb\" | indent 2 }}", &d), "  a\n  b");
    assert_eq!(
        render("{{ .List }} {{ .Values }}", &d),
        "[x y x] map[env:prod]"
    );
    assert_eq!(render("{{ range 3 }}{{ . }}{{ end }}", &d), "012");
}

#[test]
fn errors_name_the_line() {
    let e = Template::parse("ok\n{{ sha256sum .X }}").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("sha256sum"), "{e}");
    assert_eq!(
        Template::parse("{{ if .X }}").unwrap_err().message,
        "if has no {{end}}"
    );
    assert!(Template::parse("{{ .X ").is_err());
    assert!(Template::parse("{{ end }}").is_err());
    assert!(Template::parse("{{ define \"x\" }}{{ end }}").is_err());
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(
        Template::parse(&deep)
            .unwrap_err()
            .message
            .contains("nested")
    );
    let deep = "{{ if 1 }}".repeat(100_000);
    assert!(
        Template::parse(&deep)
            .unwrap_err()
            .message
            .contains("nested")
    );
    let e = Template::parse("{{ .AutomationObject.Nope }}")
        .unwrap()
        .render(&data())
        .unwrap_err();
    assert!(e.message.contains("Nope"), "{e}");
    let e = Template::parse("{{ $nope }}")
        .unwrap()
        .render(&data())
        .unwrap_err();
    assert!(e.message.contains("undefined variable"), "{e}");
}

/// Templates are repository input: every way to make one grow without
/// bound ends in an error naming the line, never a panic or an abort.
#[test]
fn hostile_templates_are_bounded() {
    let d = data();
    let fails = |src: &str, want: &str| {
        let t = Template::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let e = t.render(&d).expect_err(src);
        assert!(e.message.contains(want), "{src}: {e}");
        assert_eq!(e.line, 1, "{src}");
    };
    fails(
        r#"{{ repeat 9223372036854775807 "ab" }}"#,
        "repeat would build",
    );
    fails(r#"{{ repeat 600000 "ab" }}"#, "repeat would build");
    fails(
        r#"{{ indent 9223372036854775807 "x" }}"#,
        "indent would build",
    );
    fails(r#"{{ nindent 2000000 "x" }}"#, "indent would build");
    fails(r#"{{ range 9223372036854775807 }}{{ end }}"#, "steps");
    fails(r#"{{ range 600000 }}xx{{ end }}"#, "exceed 1024 KiB");
    fails(
        r#"{{ $x := repeat 1000000 "a" }}{{ replace "a" $x $x }}"#,
        "replace would build",
    );
    fails(
        r#"{{ $x := repeat 1000000 "a" }}{{ range 100 }}{{ $y := list $x $x }}{{ end }}"#,
        "copies more than 64 MiB",
    );
    fails(
        r#"{{ $x := repeat 1000000 "a" }}{{ cat $x $x }}"#,
        "exceed 1024 KiB",
    );
    let nest = "{{ $a := list 1 }}".to_string() + &"{{ $a = list $a }}".repeat(40) + "{{ $a }}";
    fails(&nest, "nested more than 32 deep");
    // Within the bounds, the same functions still work.
    assert_eq!(render(r#"{{ repeat 3 "ab" }}"#, &d), "ababab");
    assert_eq!(render(r#"{{ indent 2 "a\nb" }}"#, &d), "  a\n  b");
    assert_eq!(render(r#"{{ replace "a" "bb" "aXa" }}"#, &d), "bbXbb");
}
